"""LSTM encoder-decoders for translation, trained with teacher forcing.

Training model: ``[source_ids (batch, S), decoder_input_ids (batch, T)] -> (batch, T, target_vocab)``
probabilities, where ``decoder_input_ids`` is ``<sos> y1 .. y_{T-1}`` and the targets are
``y1 .. y_{T-1} <eos>`` (teacher forcing). Id 0 is padding on both sides and is masked, so padded
target steps add nothing to the loss.

Attention (Luong's architecture): each decoder output attends over the encoder outputs, scored by
dot product (``luong``) or additively (``bahdanau``, Keras' AdditiveAttention); the context and
the decoder output are combined through a tanh layer before the softmax. ``attention=None`` is the
plain encoder-decoder: the encoder's final state is all the decoder sees.

Inference models are built from the training model's own layers (``InferenceModels``), so they
share its weights: an encoder, and a one-step decoder that takes the previous token and state and
returns next-token probabilities, the new state and the attention weights over the source.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers, ops

ENCODER = "encoder"
DECODER = "decoder"
ATTENTION = "decoder_attention"
COMBINE = "attention_combine"
OUTPUT = "next_token"
ATTENTION_KINDS = (None, "luong", "bahdanau")


def build_seq2seq(source_vocab: int, target_vocab: int, embedding_dim: int, units: int,
                  attention: str | None = None, bidirectional: bool = False, dropout_rate: float = 0.0,
                  name: str = "seq2seq") -> keras.Model:
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"attention={attention!r}: expected one of {ATTENTION_KINDS}")
    source_ids = keras.Input(shape=(None,), dtype="int32", name="source_ids")  # (batch, S)
    decoder_input_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_input_ids")  # (batch, T)

    source = layers.Embedding(source_vocab, embedding_dim, mask_zero=True, name="source_embedding")(source_ids)
    source = layers.Dropout(dropout_rate, name="source_dropout")(source)
    if bidirectional:
        outputs, forward_h, forward_c, backward_h, backward_c = layers.Bidirectional(
            layers.LSTM(units, return_sequences=True, return_state=True), name=ENCODER)(source)
        # The decoder has 2 * units, so the joined final states initialise it directly.
        state = [layers.Concatenate(name="encoder_h")([forward_h, backward_h]),
                 layers.Concatenate(name="encoder_c")([forward_c, backward_c])]
    else:
        outputs, state_h, state_c = layers.LSTM(units, return_sequences=True, return_state=True,
                                                name=ENCODER)(source)
        state = [state_h, state_c]
    decoder_units = 2 * units if bidirectional else units  # encoder outputs: (batch, S, decoder_units)

    target = layers.Embedding(target_vocab, embedding_dim, mask_zero=True, name="target_embedding")(decoder_input_ids)
    target = layers.Dropout(dropout_rate, name="target_dropout")(target)
    decoded, _, _ = layers.LSTM(decoder_units, return_sequences=True, return_state=True,
                                name=DECODER)(target, initial_state=state)  # (batch, T, decoder_units)
    if attention:
        attention_layer = _attention_layer(attention)
        # Scores are asked for (and unused) here too: Keras cannot reuse a layer for the inference
        # step with return_attention_scores=True if its first call returned one output.
        context, _ = attention_layer([decoded, outputs], return_attention_scores=True)  # (batch, T, units)
        decoded = layers.Dense(decoder_units, activation="tanh", name=COMBINE)(
            layers.Concatenate(name="decoder_and_context")([decoded, context]))
    decoded = layers.Dropout(dropout_rate, name="output_dropout")(decoded)
    probabilities = layers.Dense(target_vocab, activation="softmax", dtype="float32",
                                 name=OUTPUT)(decoded)  # (batch, T, V), float32 under mixed precision
    return keras.Model([source_ids, decoder_input_ids], probabilities, name=name)


def _attention_layer(kind: str) -> layers.Layer:
    if kind == "luong":
        return layers.Attention(score_mode="dot", name=ATTENTION)
    return layers.AdditiveAttention(name=ATTENTION)


def has_attention(model: keras.Model) -> bool:
    return any(layer.name == ATTENTION for layer in model.layers)


def is_bidirectional(model: keras.Model) -> bool:
    return isinstance(model.get_layer(ENCODER), layers.Bidirectional)


@dataclass
class InferenceModels:
    """The trained model's layers rewired for step-by-step decoding."""

    encoder: keras.Model  # source_ids -> [encoder outputs, h, c]
    step: keras.Model     # [token (batch, 1), h, c, encoder outputs, source mask] -> [probs, h, c, weights]

    @classmethod
    def from_training_model(cls, model: keras.Model) -> InferenceModels:
        source_ids = model.inputs[0]
        encoder_layer = model.get_layer(ENCODER)
        source = model.get_layer("source_embedding")(source_ids)
        if is_bidirectional(model):
            outputs, forward_h, forward_c, backward_h, backward_c = encoder_layer(source)
            state_h = model.get_layer("encoder_h")([forward_h, backward_h])
            state_c = model.get_layer("encoder_c")([forward_c, backward_c])
        else:
            outputs, state_h, state_c = encoder_layer(source)
        encoder = keras.Model(source_ids, [outputs, state_h, state_c], name="inference_encoder")

        decoder_layer = model.get_layer(DECODER)
        units = decoder_layer.units
        token = keras.Input(shape=(1,), dtype="int32", name="previous_token")
        h_in = keras.Input(shape=(units,), name="h")
        c_in = keras.Input(shape=(units,), name="c")
        memory = keras.Input(shape=(None, units), name="encoder_outputs")
        source_mask = keras.Input(shape=(None,), dtype="bool", name="source_mask")
        embedded = model.get_layer("target_embedding")(token)  # (batch, 1, embedding_dim)
        decoded, h_out, c_out = decoder_layer(embedded, initial_state=[h_in, c_in])  # (batch, 1, units)
        if has_attention(model):
            context, scores = model.get_layer(ATTENTION)([decoded, memory], mask=[None, source_mask],
                                                         return_attention_scores=True)
            decoded = model.get_layer(COMBINE)(model.get_layer("decoder_and_context")([decoded, context]))
            weights = ops.squeeze(scores, 1)  # (batch, S)
        else:
            weights = ops.zeros_like(ops.cast(source_mask, "float32"))  # no attention: all zero
        probabilities = ops.squeeze(model.get_layer(OUTPUT)(decoded), 1)  # (batch, V)
        step = keras.Model([token, h_in, c_in, memory, source_mask], [probabilities, h_out, c_out, weights],
                           name="inference_step")
        return cls(encoder, step)
