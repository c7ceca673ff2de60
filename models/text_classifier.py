"""What every text classifier in ``models/classifiers/`` shares: token ids (right-padded, 0 =
padding) in, the embedding, the classification head, and attention inspection.

Builders keep Keras' recurrent defaults (tanh/sigmoid, no recurrent dropout, no unroll) and give
recurrent layers a right-padded mask, so on a GPU Keras runs them on cuDNN.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from models.config import ModelConfig

# The attention layer's name in every attention model: inspection and serving find it by name.
ATTENTION_LAYER = "attention"


def classification_head(features: keras.KerasTensor, num_classes: int) -> keras.KerasTensor:
    """One sigmoid unit for two classes, softmax otherwise (the loss follows: see loss_for)."""
    if num_classes < 2:
        raise ValueError(f"num_classes={num_classes}: a classifier needs at least two classes")
    # float32 even under a mixed-precision policy: probabilities and the loss need the range.
    if num_classes == 2:
        return layers.Dense(1, activation="sigmoid", dtype="float32", name="probability")(features)  # (batch, 1)
    return layers.Dense(num_classes, activation="softmax", dtype="float32",
                        name="probabilities")(features)  # (batch, classes)


def embedded_tokens(config: ModelConfig, vocab_size: int) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """(token ids input, embedded and dropped-out tokens); id 0 is masked for later layers."""
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (batch, time)
    embedded = layers.Embedding(vocab_size, config.embedding_dim, mask_zero=True,
                                name="embedding")(token_ids)  # (batch, time, embedding_dim)
    embedded = layers.SpatialDropout1D(config.dropout_rate, name="embedding_dropout")(embedded)
    return token_ids, embedded


def finish(token_ids, encoded, config: ModelConfig, num_classes: int, name: str) -> keras.Model:
    encoded = layers.Dropout(config.dropout_rate, name="dropout")(encoded)
    return keras.Model(token_ids, classification_head(encoded, num_classes), name=name)


def has_attention(model: keras.Model) -> bool:
    return any(layer.name == ATTENTION_LAYER for layer in model.layers)


def attention_inspector(model: keras.Model) -> keras.Model:
    """The same layers, also returning the attention weights ``(batch, time)``."""
    if not has_attention(model):
        raise ValueError(f"model {model.name!r} has no {ATTENTION_LAYER!r} layer to inspect")
    weights = model.get_layer(ATTENTION_LAYER).output[1]
    return keras.Model(model.inputs, [model.outputs[0], weights], name=f"{model.name}_inspector")


def class_probabilities(outputs) -> np.ndarray:
    """Model outputs -> (batch, num_classes) probabilities, for one-unit sigmoid heads too."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        return np.hstack([1.0 - outputs, outputs])
    return outputs


def loss_for(num_classes: int) -> str:
    return "binary_crossentropy" if num_classes == 2 else "sparse_categorical_crossentropy"
