"""Attention that pools a sequence into one vector, given a query: the classifier's attention."""

from __future__ import annotations

import keras
from keras import ops

SCORES = ("bahdanau", "dot")


@keras.saving.register_keras_serializable(package="rnnflow")
class SequenceAttention(keras.layers.Layer):
    """Weights over time steps from a query; returns ``(context, weights)``.

    - ``bahdanau``: ``score_t = v . tanh(W_values h_t + W_query q)`` (additive).
    - ``dot``: ``score_t = h_t . q`` (Luong dot product; query and values share a width).

    Padded steps (mask False) get weight exactly 0; weights over the rest sum to 1.

    Call with ``[values, query]``: values ``(batch, time, value_dim)``, query ``(batch, query_dim)``.
    """

    def __init__(self, score: str = "bahdanau", units: int = 64, **kwargs):
        super().__init__(**kwargs)
        if score not in SCORES:
            raise ValueError(f"score={score!r}: expected one of {SCORES}")
        if units < 1:
            raise ValueError(f"units={units}: must be at least 1")
        self.score = score
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        values_shape, query_shape = input_shape
        value_dim, query_dim = values_shape[-1], query_shape[-1]
        if self.score == "dot" and value_dim != query_dim:
            raise ValueError(f"dot-product attention needs query width == value width; "
                             f"got query {query_dim}, values {value_dim}")
        if self.score == "bahdanau":
            self.values_kernel = self.add_weight(name="values_kernel", shape=(value_dim, self.units),
                                                 initializer="glorot_uniform")
            self.query_kernel = self.add_weight(name="query_kernel", shape=(query_dim, self.units),
                                                initializer="glorot_uniform")
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
            self.score_vector = self.add_weight(name="score_vector", shape=(self.units,),
                                                initializer="glorot_uniform")

    def call(self, inputs, mask=None):
        values, query = inputs  # (batch, time, value_dim), (batch, query_dim)
        if self.score == "bahdanau":
            hidden = ops.tanh(ops.matmul(values, self.values_kernel)
                              + ops.expand_dims(ops.matmul(query, self.query_kernel), 1)
                              + self.bias)  # (batch, time, units)
            scores = ops.matmul(hidden, self.score_vector)  # (batch, time)
        else:
            scores = ops.sum(values * ops.expand_dims(query, 1), axis=-1)  # (batch, time)
        values_mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        if values_mask is not None:
            scores = ops.where(values_mask, scores, ops.full_like(scores, -1e9))
        weights = ops.softmax(scores, axis=-1)  # (batch, time)
        if values_mask is not None:
            # An all-padding row would otherwise spread weight over padding.
            weights = weights * ops.cast(values_mask, weights.dtype)
        context = ops.sum(values * ops.expand_dims(weights, -1), axis=1)  # (batch, value_dim)
        return context, weights

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        values_shape, _ = input_shape
        return (values_shape[0], values_shape[-1]), (values_shape[0], values_shape[1])

    def get_config(self):
        return {**super().get_config(), "score": self.score, "units": self.units}
