import numpy as np
import pytest

from pipeline.training.fitting import length_bucketed_batches, length_bucketed_dataset


def _right_padded(lengths, width, rng, offset=0):
    rows = np.zeros((len(lengths), width), np.int32)
    for row, length in enumerate(lengths):
        rows[row, :length] = rng.integers(1, 50, length) + offset
    return rows


@pytest.mark.parametrize("seeded", [True, False])
def test_every_row_lands_in_exactly_one_batch(seeded):
    lengths = np.random.default_rng(1).integers(1, 12, 1000)
    batches = length_bucketed_batches(lengths, 64, np.random.default_rng(0) if seeded else None, window_batches=4)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(1000))
    # Windows of 4 x 64 rows: three full ones, then 232 rows, which leave the one short batch.
    assert sorted(len(batch) for batch in batches) == [1000 % 64] + [64] * (1000 // 64)


def test_batches_hold_rows_of_similar_length():
    lengths = np.random.default_rng(1).integers(1, 12, 4096)
    random_waste = sum(int((lengths[index].max() - lengths[index]).sum())
                       for index in np.array_split(np.random.default_rng(2).permutation(4096), 64))
    bucketed = length_bucketed_batches(lengths, 64, np.random.default_rng(0), window_batches=16)
    bucketed_waste = sum(int((lengths[index].max() - lengths[index]).sum()) for index in bucketed)
    assert bucketed_waste < random_waste / 10, (bucketed_waste, random_waste)


def test_shuffled_batches_are_reproducible_and_change_every_epoch():
    lengths = np.random.default_rng(1).integers(1, 12, 500)
    first = np.random.default_rng(7)
    epoch_1 = np.concatenate(length_bucketed_batches(lengths, 32, first))
    epoch_2 = np.concatenate(length_bucketed_batches(lengths, 32, first))
    again = np.concatenate(length_bucketed_batches(lengths, 32, np.random.default_rng(7)))
    assert np.array_equal(epoch_1, again)
    assert not np.array_equal(epoch_1, epoch_2)


def test_unseeded_batches_go_shortest_first():
    lengths = np.array([5, 1, 3, 2, 4, 1])
    batches = length_bucketed_batches(lengths, 2, None)
    assert [lengths[index].tolist() for index in batches] == [[1, 1], [2, 3], [4, 5]]


def test_dataset_batches_are_trimmed_to_their_longest_row_and_keep_every_token():
    rng = np.random.default_rng(3)
    source_lengths = rng.integers(1, 9, 300)
    target_lengths = rng.integers(1, 12, 300)
    source = _right_padded(source_lengths, 8, rng)
    decoder_out = _right_padded(target_lengths, 11, rng)
    decoder_in = _right_padded(target_lengths, 11, rng, offset=100)  # only its shape matters here
    data = length_bucketed_dataset((source, decoder_in), decoder_out, 32, np.random.default_rng(0))
    assert int(data.cardinality()) == 10

    seen = []
    for (source_batch, decoder_in_batch), decoder_out_batch in data.as_numpy_iterator():
        assert decoder_in_batch.shape == decoder_out_batch.shape
        assert (source_batch != 0).sum(axis=1).max() == source_batch.shape[1]  # no all-padding column
        assert (decoder_out_batch != 0).sum(axis=1).max() == decoder_out_batch.shape[1]
        for source_row, target_row in zip(source_batch, decoder_out_batch):
            seen.append((tuple(source_row[source_row != 0]), tuple(target_row[target_row != 0])))
    expected = [(tuple(s[s != 0]), tuple(t[t != 0])) for s, t in zip(source, decoder_out)]
    assert sorted(seen) == sorted(expected)


def test_classifier_batches_are_trimmed_and_keep_each_row_with_its_label():
    """One input goes in as an array (a one-input Keras model), the labels untouched."""
    rng = np.random.default_rng(5)
    lengths = rng.integers(0, 30, 500)  # an empty row (a text with no token left) too
    lengths[0] = 0
    ids = _right_padded(lengths, 30, rng)
    labels = rng.integers(0, 4, 500)
    data = length_bucketed_dataset((ids,), labels, 64, np.random.default_rng(0))
    assert int(data.cardinality()) == 8
    seen, widths = [], []
    for x, y in data.as_numpy_iterator():
        assert x.ndim == 2 and y.shape == (len(x),) and y.dtype == labels.dtype
        assert x.shape[1] == max(1, (x != 0).sum(axis=1).max())
        widths.append(x.shape[1])
        seen.extend((tuple(row[row != 0]), int(label)) for row, label in zip(x, y))
    assert sorted(seen) == sorted((tuple(row[row != 0]), int(label)) for row, label in zip(ids, labels))
    assert np.mean(widths) < 30 * 0.75, widths  # 8 batches of 64 over lengths 0..29: most are cut short


def test_validation_dataset_has_a_fixed_order():
    rng = np.random.default_rng(4)
    lengths = rng.integers(1, 9, 100)
    source = _right_padded(lengths, 8, rng)
    target = _right_padded(lengths, 8, rng)
    data = length_bucketed_dataset((source, target), target, 16, None)
    first = [y.tolist() for _, y in data.as_numpy_iterator()]
    second = [y.tolist() for _, y in data.as_numpy_iterator()]
    assert first == second


def test_an_unreadable_training_backup_means_training_from_the_start_not_a_failed_run(tmp_path, mlflow_store,
                                                                                       caplog):
    """kill -9 while Keras writes its backup can leave both generations unreadable: the run then
    trains from the first epoch instead of failing every retry on the same file."""
    import keras
    import mlflow
    import numpy as np
    import tensorflow as tf

    from pipeline.config import load_config
    from pipeline.paths import run_dir
    from pipeline.tracking.lineage import Lineage
    from pipeline.training.fitting import fit_and_log

    config = load_config("nsmc", {"data_root": str(tmp_path / "data"), "train.epochs": 3})
    lineage = Lineage("dag", "run-1", "hash")
    backup = run_dir(config.data_dir(), "dag", "run-1") / "tiny" / "backup"
    backup.mkdir(parents=True)
    for name in ("latest.weights.h5", "latest.weights.h5.bkp"):
        (backup / name).write_bytes(b"\x89HDF\r\n half a file")
    (backup / "training_metadata.json").write_text('{"epoch": 2, "batch": -1}')
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rows = tf.data.Dataset.from_tensor_slices((np.ones((8, 4), "float32"), np.zeros(8, "int32"))).batch(4)
    mlflow.set_experiment("backup-test")
    with mlflow.start_run(), caplog.at_level("WARNING", logger="pipeline.training.fitting"):
        stats = fit_and_log(config, model, rows, rows, "tiny", lineage)
    assert stats.epochs_run == 3
    assert "could not be restored" in caplog.text and "training tiny from the start" in caplog.text


def test_a_backup_whose_epoch_record_was_cut_resumes_from_the_previous_epoch(tmp_path, mlflow_store, caplog):
    """kill -9 while Keras writes the epoch record (written after the weights) leaves it empty; the
    previous generation, copied before that write began, resumes the run instead of the first epoch."""
    import shutil

    import keras
    import mlflow
    import numpy as np
    import tensorflow as tf

    from pipeline.config import load_config
    from pipeline.paths import run_dir
    from pipeline.tracking.lineage import Lineage
    from pipeline.training.fitting import fit_and_log

    config = load_config("nsmc", {"data_root": str(tmp_path / "data"), "train.epochs": 3})
    lineage = Lineage("dag", "run-1", "hash")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    backup = run_dir(config.data_dir(), "dag", "run-1") / "tiny" / "backup"
    backup.mkdir(parents=True)
    model.save_weights(backup / "latest.weights.h5")
    shutil.copyfile(backup / "latest.weights.h5", backup / "latest.weights.h5.bkp")  # as Keras makes it
    (backup / "training_metadata.json.bkp").write_text('{"epoch": 2, "batch": 0}')
    (backup / "training_metadata.json").write_text("")  # killed as the file was opened for writing
    rows = tf.data.Dataset.from_tensor_slices((np.ones((8, 4), "float32"), np.zeros(8, "int32"))).batch(4)
    mlflow.set_experiment("backup-test")
    with mlflow.start_run(), caplog.at_level("WARNING", logger="pipeline.training.fitting"):
        stats = fit_and_log(config, model, rows, rows, "tiny", lineage)
    assert stats.epochs_run == 1  # the third epoch only
    assert "restoring the previous epoch's backup" in caplog.text and "from the start" not in caplog.text


@pytest.mark.parametrize("schedule", ["plateau", "cosine", "constant"])
def test_the_learning_rate_schedule_reaches_the_optimizer_and_the_run(tmp_path, mlflow_store, schedule):
    """Train on class 0, validate on class 1: the validation loss gets worse every epoch, so the
    plateau schedule halves the rate at the end of every epoch after the first (lr_patience 1).
    The run records the rate each epoch trained with."""
    import math

    import keras
    import mlflow
    import tensorflow as tf

    from pipeline.config import load_config
    from pipeline.tracking.lineage import Lineage
    from pipeline.training.fitting import fit_and_log

    epochs, rate = 4, 0.01
    config = load_config("nsmc", {"data_root": str(tmp_path / "data"), "train.epochs": epochs,
                                  "train.learning_rate": rate, "train.lr_schedule": schedule,
                                  "train.early_stopping_patience": epochs})
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy")

    def rows(label):
        return tf.data.Dataset.from_tensor_slices((np.ones((8, 4), "float32"), np.full(8, label, "int32"))).batch(4)

    mlflow.set_experiment("schedule-test")
    with mlflow.start_run() as run:
        fit_and_log(config, model, rows(0), rows(1), "tiny", Lineage("dag", f"run-{schedule}", "hash"))
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "learning_rate")
    logged = [metric.value for metric in sorted(history, key=lambda metric: metric.step)]
    expected = {"plateau": [rate, rate, rate / 2, rate / 4],
                "cosine": [rate * 0.5 * (1 + math.cos(math.pi * epoch / epochs)) for epoch in range(epochs)],
                "constant": []}[schedule]  # a constant rate is the run's train.learning_rate param
    assert logged == pytest.approx(expected, rel=1e-5)


def test_checkpoint_averaging_leaves_the_mean_of_the_epochs_ending_at_the_best(tmp_path, mlflow_store):
    """Validation loss falls every epoch here, so the best epoch is the last: the model ends with the
    mean of the last two epochs' weights, not the last epoch's."""
    import keras
    import mlflow
    import tensorflow as tf

    from pipeline.config import load_config
    from pipeline.tracking.lineage import Lineage
    from pipeline.training.fitting import FitHooks, fit_and_log

    config = load_config("nsmc", {"data_root": str(tmp_path / "data"), "train.epochs": 4,
                                  "train.average_checkpoints": 2})
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((logs["val_loss"], self.model.get_weights()))

    rows = tf.data.Dataset.from_tensor_slices((np.ones((8, 4), "float32"), np.zeros(8, "int32"))).batch(4)
    mlflow.set_experiment("averaging-test")
    with mlflow.start_run():
        fit_and_log(config, model, rows, rows, "tiny", Lineage("dag", "run-avg", "hash"),
                    FitHooks(workdir="avg", callbacks=(Record(),)))
    losses = [loss for loss, _ in seen]
    assert len(seen) == 4 and losses == sorted(losses, reverse=True)  # the last epoch is the best
    expected = [(a + b) / 2 for a, b in zip(seen[2][1], seen[3][1])]
    for got, want, last in zip(model.get_weights(), expected, seen[3][1]):
        np.testing.assert_allclose(got, want, rtol=1e-6)
        assert not np.allclose(got, last)


def test_the_device_scope_builds_in_the_mixed_policy_records_it_and_restores_the_global_one(tmp_path, mlflow_store,
                                                                                            monkeypatch):
    import keras
    import mlflow

    import pipeline.training.devices
    from pipeline.config import load_config
    from pipeline.names import PRECISION_TAG
    from pipeline.training.fitting import device_scope

    monkeypatch.setattr(pipeline.training.devices, "cpu_flags", lambda: {"avx512f", "amx_bf16"})
    config = load_config("nsmc", {"data_root": str(tmp_path / "data"), "train.mixed_precision": True})
    mlflow.set_experiment("precision-test")
    with mlflow.start_run() as run:
        with device_scope(config):
            layer = keras.layers.Dense(2)
    assert layer.dtype_policy.name == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"
    assert keras.layers.Dense(2).dtype_policy.name == "float32"
    assert mlflow.get_run(run.info.run_id).data.tags[PRECISION_TAG] == "mixed_bfloat16"
