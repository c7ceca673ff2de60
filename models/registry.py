"""Model builders by name. Names map to import paths so that listing or validating names never
imports TensorFlow (DAG parsing and config validation stay fast)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

    from pipeline.config import ModelConfig

KERAS_BUILDERS = ("simple_rnn", "lstm", "gru", "bilstm", "stacked_bilstm", "cnn_lstm", "bilstm_attention")
# scikit-learn pipelines over the same tokens; trained and served through the same stages.
BASELINE_BUILDERS = ("tfidf_nb", "tfidf_logreg")
# Encoder-decoders for translation: without attention, with Luong (dot) or Bahdanau (additive).
SEQ2SEQ_BUILDERS = ("seq2seq", "seq2seq_luong", "seq2seq_bahdanau")
BUILDERS: dict[str, str] = {
    **{name: f"models.classifiers:build_{name}" for name in KERAS_BUILDERS},
    **{name: f"models.baselines:build_{name}" for name in BASELINE_BUILDERS},
    "seq2seq": "models.seq2seq:build_seq2seq_plain",
    "seq2seq_luong": "models.seq2seq:build_seq2seq_luong",
    "seq2seq_bahdanau": "models.seq2seq:build_seq2seq_bahdanau",
}


def available_builders() -> list[str]:
    return sorted(BUILDERS)


def is_baseline(name: str) -> bool:
    return name in BASELINE_BUILDERS


def is_seq2seq(name: str) -> bool:
    return name in SEQ2SEQ_BUILDERS


def _builder(name: str):
    if name not in BUILDERS:
        raise KeyError(f"model {name!r}: no builder registered; known: {available_builders()}")
    module_name, function_name = BUILDERS[name].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def build_translator(name: str, config: "ModelConfig", source_vocab: int, target_vocab: int) -> "keras.Model":
    if not is_seq2seq(name):
        raise KeyError(f"model {name!r} is not an encoder-decoder; those are {list(SEQ2SEQ_BUILDERS)}")
    return _builder(name)(config, source_vocab, target_vocab)


def build_model(name: str, config: "ModelConfig", vocab_size: int, num_classes: int = 2) -> "keras.Model":
    if is_baseline(name) or is_seq2seq(name):
        raise KeyError(f"model {name!r} is a scikit-learn baseline: use build_baseline")
    return _builder(name)(config, vocab_size, num_classes=num_classes)


def build_baseline(name: str, config: "ModelConfig", num_classes: int = 2):
    if not is_baseline(name):
        raise KeyError(f"model {name!r} is not a baseline; baselines: {list(BASELINE_BUILDERS)}")
    return _builder(name)(config, num_classes=num_classes)
