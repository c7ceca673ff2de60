"""Train stage: one architecture on the prepared features, tracked in its own MLflow child run."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline.config import PipelineConfig
from pipeline.lineage import Lineage
from pipeline.paths import run_dir
from pipeline.preprocess import FEATURES_FILE, PreprocessResult
from pipeline.tracking import child_run, configure, log_params_once

log = logging.getLogger(__name__)

MODEL_ARTIFACTS = {"keras": "keras/model.keras", "sklearn": "sklearn_model"}


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    arch: str
    flavor: str  # "keras" or "sklearn": how evaluation and serving load the model
    model_uri: str
    train_seconds: float
    epochs_run: int
    param_count: int

    def to_xcom(self) -> dict:
        return asdict(self)


def make_datasets(splits: dict, batch_size: int, seed: int):
    """(train, valid or None) tf.data pipelines from ``{"train": (x, y), "valid": (x, y)}``;
    ``x`` may be a tuple of arrays (a model with several inputs)."""
    import tensorflow as tf

    def dataset(split: str, shuffle: bool):
        x, y = splits[split]
        data = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            data = data.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
        return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    has_valid = len(splits["valid"][1]) > 0
    return dataset("train", True), (dataset("valid", False) if has_valid else None)


def run_train(config: PipelineConfig, prepared: PreprocessResult, arch: str, parent_run_id: str,
              lineage: Lineage) -> TrainResult:
    import mlflow

    from models.registry import is_baseline, is_seq2seq

    client = configure(config)
    flavor = "sklearn" if is_baseline(arch) else "keras"
    model_uri_of = lambda run_id: f"runs:/{run_id}/{MODEL_ARTIFACTS[flavor]}"  # noqa: E731
    run_id, finished = child_run(client, config, parent_run_id, arch, lineage)
    if finished:
        log.info("%s already trained in MLflow run %s; reusing it", arch, run_id)
        metrics = client.get_run(run_id).data.metrics
        return TrainResult(run_id, arch, flavor, model_uri_of(run_id), metrics["train_seconds"],
                           int(metrics["epochs_run"]), int(metrics["param_count"]))
    fit = fit_baseline if flavor == "sklearn" else fit_seq2seq if is_seq2seq(arch) else fit_keras
    with mlflow.start_run(run_id=run_id):
        log_params_once(client, run_id, {**config.flat_params(), "arch": arch, "flavor": flavor,
                                         **prepared.params()})
        train_seconds, epochs_run, param_count = fit(config, prepared, arch, lineage)
        mlflow.log_metrics({"train_seconds": train_seconds, "epochs_run": epochs_run, "param_count": param_count})
    return TrainResult(run_id, arch, flavor, model_uri_of(run_id), round(train_seconds, 2), epochs_run,
                       param_count)


def fit_keras(config: PipelineConfig, prepared: PreprocessResult, arch: str,
              lineage: Lineage) -> tuple[float, int, int]:
    """A classifier on the prepared token ids."""
    import keras

    from models.classifiers import loss_for
    from models.registry import build_model

    keras.utils.set_random_seed(config.train.seed)
    with np.load(Path(prepared.features_dir) / FEATURES_FILE) as arrays:
        features = {name: arrays[name] for name in arrays.files}
    splits = {split: (features[f"x_{split}"], features[f"y_{split}"]) for split in ("train", "valid")}
    train_data, valid_data = make_datasets(splits, config.train.batch_size, config.train.seed)
    with device_scope(config):
        model = build_model(arch, config.model, prepared.vocab_size, prepared.num_classes)
        model.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate),
                      loss=loss_for(prepared.num_classes), metrics=["accuracy"])
    return fit_and_log(config, model, train_data, valid_data, arch, lineage)


def fit_seq2seq(config: PipelineConfig, prepared, arch: str, lineage: Lineage) -> tuple[float, int, int]:
    """An encoder-decoder on (source, <sos> target) -> (target <eos>), teacher-forced."""
    import keras

    from pipeline import translation

    keras.utils.set_random_seed(config.train.seed)
    with np.load(Path(prepared.features_dir) / translation.FEATURES_FILE) as arrays:
        splits = {split: (arrays[f"x_{split}"], arrays[f"decoder_in_{split}"], arrays[f"decoder_out_{split}"])
                  for split in ("train", "valid")}
    rng = np.random.default_rng(config.train.seed)
    train_data = length_bucketed_dataset(*splits["train"], config.train.batch_size, rng)
    valid_data = (length_bucketed_dataset(*splits["valid"], config.train.batch_size, None)
                  if len(splits["valid"][0]) else None)
    with device_scope(config):
        model = translation.build_and_compile(config, prepared, arch)
    return fit_and_log(config, model, train_data, valid_data, arch, lineage)


def length_bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None,
                            window_batches: int = 32) -> list[np.ndarray]:
    """Row indices, one array per batch, that put rows of similar length together.

    With ``rng``: rows are shuffled, sorted by length within windows of ``window_batches``
    batches, cut into batches, and the batches shuffled, so batches stay random in content and
    order yet pad little. Without: rows sorted by length (evaluation order, reproducible).
    Every row appears exactly once.
    """
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    order = rng.permutation(len(lengths))
    window = batch_size * window_batches
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start:start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[offset:offset + batch_size] for offset in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def length_bucketed_dataset(source: np.ndarray, decoder_in: np.ndarray, decoder_out: np.ndarray,
                            batch_size: int, rng: np.random.Generator | None):
    """A tf.data pipeline of ``((source, decoder_in), decoder_out)`` batches, each cut to its own
    longest row (the arrays are right-padded with 0) and drawn by ``length_bucketed_batches``,
    anew each epoch. The softmax over the target vocabulary dominates a training step, and on
    fra-eng the mean target is 7 of 11 padded steps: most of that work was on padding."""
    import tensorflow as tf

    source_lengths = (source != 0).sum(axis=1)
    target_lengths = (decoder_out != 0).sum(axis=1)
    # Sort by target length first (it sets the softmax work), source length second.
    sort_key = target_lengths * (source.shape[1] + 1) + source_lengths
    batch_count = -(-len(source) // batch_size)

    def batches():
        for index in length_bucketed_batches(sort_key, batch_size, rng):
            source_width = max(1, int(source_lengths[index].max()))
            target_width = max(1, int(target_lengths[index].max()))
            yield ((source[index, :source_width], decoder_in[index, :target_width]),
                   decoder_out[index, :target_width])

    ids = tf.TensorSpec(shape=(None, None), dtype=tf.int32)
    data = tf.data.Dataset.from_generator(batches, output_signature=((ids, ids), ids))
    return data.apply(tf.data.experimental.assert_cardinality(batch_count)).prefetch(tf.data.AUTOTUNE)


@contextlib.contextmanager
def device_scope(config: PipelineConfig):
    """Build and compile inside the strategy the worker's devices call for; record it on the run."""
    import mlflow

    from pipeline.devices import set_precision, training_strategy

    strategy, devices = training_strategy()
    policy = set_precision(config.train.mixed_precision)
    mlflow.set_tags({"rnnflow.devices": devices, "rnnflow.precision": policy})
    log.info("training on %s with %s precision", devices, policy)
    with strategy.scope():
        yield


def fit_and_log(config: PipelineConfig, model, train_data, valid_data, arch: str,
                lineage: Lineage) -> tuple[float, int, int]:
    """Fit a compiled Keras model inside the active MLflow run; log it as ``keras/model.keras``."""
    import keras
    import mlflow

    monitor = "val_loss" if valid_data is not None else "loss"
    arch_dir = run_dir(config.data_dir(), lineage.dag_id, lineage.dag_run_id) / arch
    (arch_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor=monitor, patience=config.train.early_stopping_patience,
                                      restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(arch_dir / "checkpoints" / "best.keras", monitor=monitor,
                                        save_best_only=True),
        # A retried task resumes from its last finished epoch instead of starting over.
        keras.callbacks.BackupAndRestore(str(arch_dir / "backup")),
        mlflow.keras.MlflowCallback(),
    ]
    start = time.perf_counter()
    # shuffle=False: the train dataset reshuffles itself each epoch (make_datasets), seeded.
    history = model.fit(train_data, validation_data=valid_data, epochs=config.train.epochs,
                        callbacks=callbacks, shuffle=False, verbose=2)
    train_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(MODEL_ARTIFACTS["keras"]).name
        model.save(path)
        mlflow.log_artifact(str(path), artifact_path=str(Path(MODEL_ARTIFACTS["keras"]).parent))
    return train_seconds, len(history.epoch), int(model.count_params())


def fit_baseline(config: PipelineConfig, prepared: PreprocessResult, arch: str,
                 lineage: Lineage) -> tuple[float, int, int]:
    """Fit a scikit-learn baseline on the train split's tokens; log it in MLflow's sklearn flavor."""
    import mlflow
    import mlflow.sklearn

    from models.registry import build_baseline
    from pipeline.preprocess import split_tokens

    with np.load(Path(prepared.features_dir) / FEATURES_FILE) as arrays:
        y_train = arrays["y_train"]
    baseline = build_baseline(arch, config.model, prepared.num_classes)
    start = time.perf_counter()
    baseline.fit(split_tokens(prepared.features_dir, "train"), y_train)
    train_seconds = time.perf_counter() - start
    classifier = baseline.named_steps["classifier"]
    weights = getattr(classifier, "coef_", None)
    param_count = int(weights.size if weights is not None else classifier.feature_log_prob_.size)
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.sklearn.save_model(baseline, Path(tmp) / "model", serialization_format="cloudpickle")
        mlflow.log_artifacts(str(Path(tmp) / "model"), artifact_path=MODEL_ARTIFACTS["sklearn"])
    return train_seconds, 1, param_count
