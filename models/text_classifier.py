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
# The token embedding's name in every classifier: training may set its initial weights by name.
EMBEDDING_LAYER = "embedding"


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
                                name=EMBEDDING_LAYER)(token_ids)  # (batch, time, embedding_dim)
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


class LengthBuckets:
    """A classifier's forward pass for inference on token-id lists of any length.

    Every classifier masks padding (id 0), so its output does not depend on how far a row is
    padded: texts are sorted by length and each batch is padded only to its own longest text, not
    to the model's ``max_len`` (an RNN's cost grows with the padded length). The forward pass is
    compiled once for any batch size and length; ``model.predict`` builds a dataset and steps
    through it on every call, which dominates the time for one text."""

    def __init__(self, model: keras.Model, batch_size: int = 512):
        self.model = model
        self.batch_size = batch_size
        self._forward = _compiled_forward(model)

    def __call__(self, id_lists) -> np.ndarray:
        """Raw model outputs ``(len(id_lists), units)`` in the input order; ids already truncated."""
        lengths = np.fromiter((len(ids) for ids in id_lists), dtype=np.int64, count=len(id_lists))
        order = np.argsort(lengths, kind="stable")
        outputs = None
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            batch = np.zeros((len(rows), max(1, int(lengths[rows[-1]]))), dtype=np.int32)
            for position, row in enumerate(rows):
                batch[position, : lengths[row]] = id_lists[row]
            out = np.asarray(self._forward(batch))
            if outputs is None:
                outputs = np.empty((len(order), *out.shape[1:]), dtype=out.dtype)
            outputs[rows] = out
        return outputs if outputs is not None else np.empty((0, self.model.outputs[0].shape[-1]), dtype=np.float32)


def _compiled_forward(model: keras.Model):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda ids: model(ids, training=False), reduce_retracing=True,
                           input_signature=[tf.TensorSpec([None, None], tf.int32)])
    return lambda ids: keras.ops.convert_to_numpy(model(ids, training=False))
