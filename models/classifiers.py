"""Text classifiers: token ids (right-padded, 0 = padding) -> class probabilities.

Every builder has the signature ``build_<arch>(config, vocab_size, num_classes) -> keras.Model``.
Recurrent layers keep Keras' defaults (tanh/sigmoid, no recurrent dropout, no unroll) and see a
right-padded mask, so on a GPU Keras runs them on cuDNN.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from pipeline.config import ModelConfig


def classification_head(features: keras.KerasTensor, num_classes: int) -> keras.KerasTensor:
    """One sigmoid unit for two classes, softmax otherwise (the loss follows: see train.py)."""
    if num_classes < 2:
        raise ValueError(f"num_classes={num_classes}: a classifier needs at least two classes")
    if num_classes == 2:
        return layers.Dense(1, activation="sigmoid", name="probability")(features)  # (batch, 1)
    return layers.Dense(num_classes, activation="softmax", name="probabilities")(features)  # (batch, classes)


def token_input() -> keras.KerasTensor:
    return keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (batch, time)


def embed(token_ids: keras.KerasTensor, config: ModelConfig, vocab_size: int) -> keras.KerasTensor:
    # mask_zero: padding id 0 is masked, so recurrent layers skip it.
    return layers.Embedding(vocab_size, config.embedding_dim, mask_zero=True,
                            name="embedding")(token_ids)  # (batch, time, embedding_dim)


def build_lstm(config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    token_ids = token_input()
    embedded = embed(token_ids, config, vocab_size)
    embedded = layers.SpatialDropout1D(config.dropout_rate, name="embedding_dropout")(embedded)
    encoded = layers.LSTM(config.units, name="lstm")(embedded)  # (batch, units)
    encoded = layers.Dropout(config.dropout_rate, name="dropout")(encoded)
    outputs = classification_head(encoded, num_classes)
    return keras.Model(token_ids, outputs, name="lstm")


def class_probabilities(outputs) -> np.ndarray:
    """Model outputs -> (batch, num_classes) probabilities, for one-unit sigmoid heads too."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        return np.hstack([1.0 - outputs, outputs])
    return outputs


def loss_for(num_classes: int) -> str:
    return "binary_crossentropy" if num_classes == 2 else "sparse_categorical_crossentropy"
