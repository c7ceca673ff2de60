"""Fitting Keras models, whatever the task kind: input pipelines, length-bucketed batches, the
device strategy, and one fit loop with early stopping, checkpoints, resumable backups and MLflow
logging."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline import progress
from pipeline.config import PipelineConfig
from pipeline.lineage import Lineage
from pipeline.names import DEVICES_TAG, PRECISION_TAG
from pipeline.paths import run_dir
from pipeline.results import FitStats

log = logging.getLogger(__name__)

# Where each flavor's model sits inside its MLflow run.
KERAS_MODEL_ARTIFACT = "keras/model.keras"
SKLEARN_MODEL_ARTIFACT = "sklearn_model"
MODEL_ARTIFACTS = {"keras": KERAS_MODEL_ARTIFACT, "sklearn": SKLEARN_MODEL_ARTIFACT}

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
    mlflow.set_tags({DEVICES_TAG: devices, PRECISION_TAG: policy})
    log.info("training on %s with %s precision", devices, policy)
    with strategy.scope():
        yield


def fit_and_log(config: PipelineConfig, model, train_data, valid_data, arch: str, lineage: Lineage) -> FitStats:
    """Fit a compiled Keras model inside the active MLflow run; log it as ``keras/model.keras``."""
    import keras
    import mlflow

    monitor = "val_loss" if valid_data is not None else "loss"
    arch_dir = run_dir(config.data_dir(), lineage.dag_id, lineage.dag_run_id) / arch
    backup = arch_dir / "backup"
    (arch_dir / "checkpoints").mkdir(parents=True, exist_ok=True)

    def fit():
        callbacks = [
            keras.callbacks.EarlyStopping(monitor=monitor, patience=config.train.early_stopping_patience,
                                          restore_best_weights=True),
            keras.callbacks.ModelCheckpoint(arch_dir / "checkpoints" / "best.keras", monitor=monitor,
                                            save_best_only=True),
            # A retried task (or `rnnflow run --resume`) goes on from its last finished epoch. Two
            # generations: a process killed while writing one leaves the other to restore.
            keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True),
            mlflow.keras.MlflowCallback(),
        ]
        if progress.attached():
            callbacks.append(progress.epoch_callback(arch, config.train.epochs))
        # shuffle=False: the train dataset reshuffles itself each epoch (make_datasets), seeded.
        return model.fit(train_data, validation_data=valid_data, epochs=config.train.epochs,
                         callbacks=callbacks, shuffle=False, verbose=2)

    start = time.perf_counter()
    had_backup = backup.is_dir() and any(backup.iterdir())
    try:
        history = fit()
    except (OSError, ValueError) as exc:
        if not had_backup:
            raise
        # Both generations unreadable: losing the finished epochs beats failing the run.
        log.warning("the training backup in %s could not be restored (%s): training %s from the start",
                    backup, exc, arch)
        shutil.rmtree(backup, ignore_errors=True)
        history = fit()
    train_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(KERAS_MODEL_ARTIFACT).name
        model.save(path)
        mlflow.log_artifact(str(path), artifact_path=str(Path(KERAS_MODEL_ARTIFACT).parent))
    return FitStats(train_seconds, len(history.epoch), int(model.count_params()))


