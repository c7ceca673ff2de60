"""stacked_bilstm: ``config.depth`` bidirectional LSTM layers, each feeding the next its sequence."""

from __future__ import annotations

import keras
from keras import layers

from models.config import ModelConfig
from models.text_classifier import embedded_tokens, finish


def build(config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    token_ids, sequence = embedded_tokens(config, vocab_size)
    for depth in range(1, config.depth):
        sequence = layers.Bidirectional(layers.LSTM(config.units, return_sequences=True),
                                        name=f"bilstm_{depth}")(sequence)  # (batch, time, 2 * units)
    encoded = layers.Bidirectional(layers.LSTM(config.units), name=f"bilstm_{config.depth}")(sequence)
    return finish(token_ids, encoded, config, num_classes, "stacked_bilstm")  # encoded: (batch, 2 * units)
