"""Text classifiers: token ids (right-padded, 0 = padding) -> class probabilities.

Every builder has the signature ``build_<arch>(config, vocab_size, num_classes) -> keras.Model``.
Recurrent layers keep Keras' defaults (tanh/sigmoid, no recurrent dropout, no unroll) and see a
right-padded mask, so on a GPU Keras runs them on cuDNN.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from models.attention import SequenceAttention
from pipeline.config import ModelConfig

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


def _finish(token_ids, encoded, config: ModelConfig, num_classes: int, name: str) -> keras.Model:
    encoded = layers.Dropout(config.dropout_rate, name="dropout")(encoded)
    return keras.Model(token_ids, classification_head(encoded, num_classes), name=name)


def build_simple_rnn(config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    token_ids, embedded = embedded_tokens(config, vocab_size)
    encoded = layers.SimpleRNN(config.units, name="simple_rnn")(embedded)  # (batch, units)
    return _finish(token_ids, encoded, config, num_classes, "simple_rnn")


def build_lstm(config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    token_ids, embedded = embedded_tokens(config, vocab_size)
    encoded = layers.LSTM(config.units, name="lstm")(embedded)  # (batch, units)
    return _finish(token_ids, encoded, config, num_classes, "lstm")


def build_gru(config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    token_ids, embedded = embedded_tokens(config, vocab_size)
    encoded = layers.GRU(config.units, name="gru")(embedded)  # (batch, units)
    return _finish(token_ids, encoded, config, num_classes, "gru")


def build_bilstm(config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    token_ids, embedded = embedded_tokens(config, vocab_size)
    encoded = layers.Bidirectional(layers.LSTM(config.units), name="bilstm")(embedded)  # (batch, 2 * units)
    return _finish(token_ids, encoded, config, num_classes, "bilstm")


def build_stacked_bilstm(config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    token_ids, sequence = embedded_tokens(config, vocab_size)
    for depth in range(1, config.depth):
        sequence = layers.Bidirectional(layers.LSTM(config.units, return_sequences=True),
                                        name=f"bilstm_{depth}")(sequence)  # (batch, time, 2 * units)
    encoded = layers.Bidirectional(layers.LSTM(config.units), name=f"bilstm_{config.depth}")(sequence)
    return _finish(token_ids, encoded, config, num_classes, "stacked_bilstm")  # encoded: (batch, 2 * units)


def build_cnn_lstm(config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    """Conv1D -> MaxPooling1D -> LSTM, made padding-invariant by hand: Conv1D and pooling do not
    carry Keras masks, so padded steps are zeroed before and after the convolution (ReLU output is
    never negative, so a zero never wins a max-pool over a real step) and the LSTM gets the
    pooled mask."""
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
    return _finish(token_ids, encoded, config, num_classes, "cnn_lstm")


def build_bilstm_attention(config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    token_ids, embedded = embedded_tokens(config, vocab_size)
    sequence, forward_h, _, backward_h, _ = layers.Bidirectional(
        layers.LSTM(config.units, return_sequences=True, return_state=True), name="bilstm")(embedded)
    # sequence: (batch, time, 2 * units); the final states, joined, are the attention query.
    query = layers.Concatenate(name="final_state")([forward_h, backward_h])  # (batch, 2 * units)
    context, _ = SequenceAttention(config.attention_score, config.attention_units,
                                   name=ATTENTION_LAYER)([sequence, query])  # (batch, 2 * units)
    return _finish(token_ids, context, config, num_classes, "bilstm_attention")


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
