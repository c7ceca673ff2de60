"""Fitting encoder-decoders with teacher forcing on length-bucketed batches."""

from __future__ import annotations

import numpy as np

from pipeline.config import PipelineConfig
from pipeline.kinds.translation.features import TranslationFeatures
from pipeline.results import FEATURES_FILE, FitStats
from pipeline.tracking.lineage import Lineage
from pipeline.training.fitting import (
    JIT_COMPILE,
    FitHooks,
    device_scope,
    fit_and_log,
    make_datasets,
)


def build_and_compile(config: PipelineConfig, arch: str, source_vocab_size: int, target_vocab_size: int):
    import keras

    from models.registry import build_translator

    model = build_translator(arch, config.model, source_vocab_size, target_vocab_size)
    # The decoder's padding mask reaches the loss: padded target steps add nothing.
    model.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=JIT_COMPILE)
    return model


def fit_seq2seq(config: PipelineConfig, prepared: TranslationFeatures, arch: str, lineage: Lineage,
                hooks: FitHooks | None = None) -> FitStats:
    """An encoder-decoder on (source, <sos> target) -> (target <eos>), teacher-forced."""
    import keras

    keras.utils.set_random_seed(config.train.seed)
    with np.load(prepared.path(FEATURES_FILE)) as arrays:
        splits = {split: ((arrays[f"x_{split}"], arrays[f"decoder_in_{split}"]), arrays[f"decoder_out_{split}"])
                  for split in ("train", "valid")}
    train_data, valid_data = make_datasets(splits, config.train.batch_size, config.train.seed)
    with device_scope(config):
        model = build_and_compile(config, arch, prepared.source_vocab_size, prepared.target_vocab_size)
    return fit_and_log(config, model, train_data, valid_data, arch, lineage, hooks)
