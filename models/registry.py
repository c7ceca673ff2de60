"""Model builders by name. Names map to import paths so that listing or validating names never
imports TensorFlow (DAG parsing and config validation stay fast)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

    from pipeline.config import ModelConfig

BUILDERS: dict[str, str] = {
    name: f"models.classifiers:build_{name}"
    for name in ("simple_rnn", "lstm", "gru", "bilstm", "stacked_bilstm", "cnn_lstm", "bilstm_attention")
}


def available_builders() -> list[str]:
    return sorted(BUILDERS)


def build_model(name: str, config: "ModelConfig", vocab_size: int, num_classes: int = 2) -> "keras.Model":
    if name not in BUILDERS:
        raise KeyError(f"model {name!r}: no builder registered; known: {available_builders()}")
    module_name, function_name = BUILDERS[name].split(":")
    builder = getattr(importlib.import_module(module_name), function_name)
    return builder(config, vocab_size, num_classes=num_classes)
