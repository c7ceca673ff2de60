"""cnn_lstm: Conv1D -> MaxPooling1D -> LSTM.

Made padding-invariant by hand: Conv1D and pooling do not carry Keras masks, so padded steps are
zeroed before and after the convolution (ReLU output is never negative, so a zero never wins a
max-pool over a real step) and the LSTM gets the pooled mask.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from models.config import ModelConfig
from models.text_classifier import embedded_tokens, finish


def build(config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    token_ids, embedded = embedded_tokens(config, vocab_size)
    is_token = ops.cast(ops.not_equal(token_ids, 0), "float32")  # (batch, time)
    embedded = embedded * ops.expand_dims(is_token, -1)  # (batch, time, embedding_dim)
    features = layers.Conv1D(config.conv_filters, config.kernel_size, padding="same", activation="relu",
                             name="conv1d")(embedded)  # (batch, time, filters)
    features = features * ops.expand_dims(is_token, -1)
    features = layers.MaxPooling1D(config.pool_size, padding="same", name="max_pooling1d")(features)
    pooled_mask = layers.MaxPooling1D(config.pool_size, padding="same", name="mask_pooling")(
        ops.expand_dims(is_token, -1))  # (batch, time / pool, 1)
    encoded = layers.LSTM(config.units, name="lstm")(
        features, mask=ops.greater(ops.squeeze(pooled_mask, -1), 0.0))  # (batch, units)
    return finish(token_ids, encoded, config, num_classes, "cnn_lstm")
