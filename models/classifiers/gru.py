"""gru: one GRU layer over the embedded tokens."""

from __future__ import annotations

import keras
from keras import layers

from models.config import ModelConfig
from models.text_classifier import embedded_tokens, finish


def build(config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    token_ids, embedded = embedded_tokens(config, vocab_size)
    encoded = layers.GRU(config.units, name="gru")(embedded)  # (batch, units)
    return finish(token_ids, encoded, config, num_classes, "gru")
