"""simple_rnn: a plain recurrent layer (the lectures' first model)."""

from __future__ import annotations

import keras
from keras import layers

from models.config import ModelConfig
from models.text_classifier import embedded_tokens, finish


def build(config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    token_ids, embedded = embedded_tokens(config, vocab_size)
    encoded = layers.SimpleRNN(config.units, name="simple_rnn")(embedded)  # (batch, units)
    return finish(token_ids, encoded, config, num_classes, "simple_rnn")
