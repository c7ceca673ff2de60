"""Fitting Keras models, whatever the task kind: input pipelines, length-bucketed batches, the
device strategy, and one fit loop with early stopping, checkpoints, resumable backups and MLflow
logging."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import progress
from pipeline.config import PipelineConfig
from pipeline.names import DEVICES_TAG, PRECISION_TAG
from pipeline.paths import run_dir
from pipeline.results import FitStats
from pipeline.tracking.lineage import Lineage

log = logging.getLogger(__name__)

# Where each flavor's model sits inside its MLflow run.
KERAS_MODEL_ARTIFACT = "keras/model.keras"
SKLEARN_MODEL_ARTIFACT = "sklearn_model"
MODEL_ARTIFACTS = {"keras": KERAS_MODEL_ARTIFACT, "sklearn": SKLEARN_MODEL_ARTIFACT}


@dataclass(frozen=True)
class FitHooks:
    """What a hyperparameter search trial changes in a fit (``pipeline.stages.tune``): its own folder for
    checkpoints and backups, callbacks that report to the study and prune, and no saved model (a
    trial's weights are never used again; the final training retrains with the best values)."""

    workdir: str
    callbacks: tuple = ()
    save_model: bool = False


# Keras compiles the train, test and predict steps with XLA by default (jit_compile "auto"), and XLA
# compiles once per input shape. Length-bucketed batches come in dozens of shapes (every batch is cut
# to its longest row), so with XLA the first epoch spent most of its time compiling: NSMC LSTM,
# batch 256, 2 cores: first epoch 82.6 s with XLA against 16.5 s without, later epochs 18.2 against
# 20.5 s (benchmarks/classifier_training.py). Keras already resolves "auto" to no XLA for the
# encoder-decoders; every Keras model fed by make_datasets is compiled with this, so none compiles per shape.
JIT_COMPILE = False


def make_datasets(splits: dict, batch_size: int, seed: int):
    """(train, valid or None) length-bucketed pipelines (``length_bucketed_dataset``) from
    ``{"train": (inputs, target), "valid": (inputs, target)}``, ``inputs`` a tuple of arrays. The
    train batches are reshuffled each epoch from ``seed``; the validation batches keep one order."""
    rng = np.random.default_rng(seed)
    train = length_bucketed_dataset(*splits["train"], batch_size, rng)
    has_valid = len(splits["valid"][1]) > 0
    return train, (length_bucketed_dataset(*splits["valid"], batch_size, None) if has_valid else None)


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


def length_bucketed_dataset(inputs: tuple[np.ndarray, ...], target: np.ndarray, batch_size: int,
                            rng: np.random.Generator | None):
    """A tf.data pipeline of ``(inputs, target)`` batches drawn by ``length_bucketed_batches``, anew
    each epoch, every right-padded id array (each input, and the target when it is a sequence) cut
    to the batch's own longest row. One input is passed as an array, several as a tuple.

    An RNN's work grows with the padded length, and most rows are far shorter than the split's
    maximum: NSMC's train rows average 17.5 of 52 padded steps, fra-eng's targets 7 of 11 (where
    the softmax over the target vocabulary dominates). Classifiers mask padding, so a row's output
    does not depend on how far it is padded; seq2seq losses skip padded target steps.
    """
    import tensorflow as tf

    arrays = [*inputs, target]
    trimmed = [array.ndim == 2 for array in arrays]
    lengths = [(array != 0).sum(axis=1) if trim else None for array, trim in zip(arrays, trimmed)]
    # Rows of similar length in every trimmed array: the target's first (it sets a decoder's softmax
    # work), then each input's, as one sort key.
    sort_key = np.zeros(len(target), dtype=np.int64)
    for array, length in [(arrays[-1], lengths[-1]), *zip(arrays[:-1], lengths[:-1])]:
        if length is not None:
            sort_key = sort_key * (array.shape[1] + 1) + length
    batch_count = -(-len(target) // batch_size)

    def cut(index):
        return [array[index, :max(1, int(length[index].max()))] if length is not None else array[index]
                for array, length in zip(arrays, lengths)]

    def batches():
        for index in length_bucketed_batches(sort_key, batch_size, rng):
            *x, y = cut(index)
            yield (x[0] if len(x) == 1 else tuple(x)), y

    specs = [tf.TensorSpec(shape=(None, None) if trim else (None, *array.shape[1:]), dtype=tf.as_dtype(array.dtype))
             for array, trim in zip(arrays, trimmed)]
    *input_specs, target_spec = specs
    signature = (input_specs[0] if len(input_specs) == 1 else tuple(input_specs)), target_spec
    data = tf.data.Dataset.from_generator(batches, output_signature=signature)
    return data.apply(tf.data.experimental.assert_cardinality(batch_count)).prefetch(tf.data.AUTOTUNE)


@contextlib.contextmanager
def device_scope(config: PipelineConfig):
    """Build and compile inside the strategy the worker's devices call for; record it on the run.

    Layers take the dtype policy when they are built, so the global policy goes back to what it was
    afterwards: whatever the same process builds next (a dag.test run's later tasks) is not mixed."""
    import keras
    import mlflow

    from pipeline.training.devices import set_precision, training_strategy

    strategy, devices = training_strategy()
    previous = keras.mixed_precision.global_policy()
    policy = set_precision(config.train.mixed_precision)
    mlflow.set_tags({DEVICES_TAG: devices, PRECISION_TAG: policy})
    log.info("training on %s with %s precision", devices, policy)
    try:
        with strategy.scope():
            yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def learning_rate_schedule(config: PipelineConfig, monitor: str) -> list:
    """The Keras callbacks of ``train.lr_schedule`` (none for "constant"). Keras puts the rate in
    each epoch's logs, so the MLflow callback records it beside the losses."""
    import math

    import keras

    train = config.train
    if train.lr_schedule == "plateau":
        return [keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=train.lr_decay_factor,
                                                  patience=train.lr_patience, min_lr=train.learning_rate / 1000)]
    if train.lr_schedule == "cosine":
        def cosine(epoch: int, _rate: float) -> float:
            return train.learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / train.epochs))

        return [keras.callbacks.LearningRateScheduler(cosine)]
    return []


def checkpoint_average(count: int, monitor: str):
    """A Keras callback that, when training ends, sets the model's weights to the mean of ``count``
    consecutive epochs' weights ending at the epoch with the lowest ``monitor`` (it runs after early
    stopping has restored that epoch). Keeps at most ``2 * count`` epochs' weights in memory."""
    from collections import deque

    import keras

    class CheckpointAverage(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.recent, self.best, self.window = deque(maxlen=count), float("inf"), []

        def on_epoch_end(self, epoch, logs=None):
            self.recent.append(self.model.get_weights())
            value = (logs or {}).get(monitor)
            if value is not None and value < self.best:
                self.best, self.window = value, list(self.recent)

        def on_train_end(self, logs=None):
            if len(self.window) > 1:
                self.model.set_weights([np.mean(layers, axis=0) for layers in zip(*self.window)])
                log.info("weights averaged over the %d epochs ending at the best %s", len(self.window), monitor)

    return CheckpointAverage()


def _restore_the_previous_backup_if_half_written(backup: Path) -> None:
    """Put Keras's previous backup generation back when the latest one's epoch record is unreadable.

    ``BackupAndRestore(double_checkpoint=True)`` falls back to the previous generation itself when
    the latest *weights* cannot be read, but a process killed while the epoch record
    (``training_metadata.json``, written last) was being written leaves an empty or cut file, on
    which Keras raises a ValueError: the run would then train from the first epoch. The previous
    generation's weights and record were both copied before the latest write began, so they match."""
    record = backup / "training_metadata.json"
    try:
        json.loads(record.read_text())
        return
    except FileNotFoundError:
        return
    except ValueError:
        pass
    weights = backup / "latest.weights.h5"
    previous_record, previous_weights = Path(f"{record}.bkp"), Path(f"{weights}.bkp")
    if previous_record.is_file() and previous_weights.is_file():
        log.warning("the training backup's epoch record %s is unreadable: restoring the previous epoch's backup",
                    record)
        shutil.copyfile(previous_weights, weights)
        shutil.copyfile(previous_record, record)


def fit_and_log(config: PipelineConfig, model, train_data, valid_data, arch: str, lineage: Lineage,
                hooks: FitHooks | None = None) -> FitStats:
    """Fit a compiled Keras model inside the active MLflow run; log it as ``keras/model.keras``
    (a search trial's ``hooks`` add its callbacks and keep no model)."""
    import keras
    import mlflow

    monitor = "val_loss" if valid_data is not None else "loss"
    arch_dir = run_dir(config.data_dir(), lineage.dag_id, lineage.dag_run_id) / (hooks.workdir if hooks else arch)
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
            # Before the MLflow callback, which then logs the epoch's rate with its losses.
            *learning_rate_schedule(config, monitor),
            mlflow.keras.MlflowCallback(),
            *(hooks.callbacks if hooks else ()),
        ]
        if config.train.average_checkpoints > 1:  # after EarlyStopping, whose restored weights it replaces
            callbacks.append(checkpoint_average(config.train.average_checkpoints, monitor))
        if progress.attached():
            callbacks.append(progress.epoch_callback(arch, config.train.epochs))
        # shuffle=False: the train dataset reshuffles itself each epoch (make_datasets), seeded.
        return model.fit(train_data, validation_data=valid_data, epochs=config.train.epochs,
                         callbacks=callbacks, shuffle=False, verbose=2)

    start = time.perf_counter()
    had_backup = backup.is_dir() and any(backup.iterdir())
    if had_backup:
        _restore_the_previous_backup_if_half_written(backup)
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
    if hooks is None or hooks.save_model:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(KERAS_MODEL_ARTIFACT).name
            model.save(path)
            mlflow.log_artifact(str(path), artifact_path=str(Path(KERAS_MODEL_ARTIFACT).parent))
    return FitStats(train_seconds, len(history.epoch), int(model.count_params()))


