"""bilstm_attention: a bidirectional LSTM whose outputs are pooled by attention, queried by its final state."""

from __future__ import annotations

import keras
from keras import layers

from models.attention import SequenceAttention
from models.config import ModelConfig
from models.text_classifier import ATTENTION_LAYER, embedded_tokens, finish


def build(config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    token_ids, embedded = embedded_tokens(config, vocab_size)
    sequence, forward_h, _, backward_h, _ = layers.Bidirectional(
        layers.LSTM(config.units, return_sequences=True, return_state=True), name="bilstm")(embedded)
    # sequence: (batch, time, 2 * units); the final states, joined, are the attention query.
    query = layers.Concatenate(name="final_state")([forward_h, backward_h])  # (batch, 2 * units)
    context, _ = SequenceAttention(config.attention_score, config.attention_units,
                                   name=ATTENTION_LAYER)([sequence, query])  # (batch, 2 * units)
    return finish(token_ids, context, config, num_classes, "bilstm_attention")
