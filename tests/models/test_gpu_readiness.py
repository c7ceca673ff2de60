"""Every recurrent layer can run on cuDNN and models build under mixed precision (the queue routing is in tests/dags)."""


import keras
import pytest
from keras import layers

from models.registry import architectures, build_classifier, build_translator
from models.config import ModelConfig
from pipeline.text.vocab import pad_ids

CONFIG = ModelConfig(embedding_dim=8, units=4, conv_filters=4, attention_units=4)


def _recurrent_layers(model):
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, (layers.LSTM, layers.GRU)):
            yield layer


def _models():
    # SimpleRNN has no cuDNN kernel in Keras at all: it stays the lecture's CPU-sized baseline.
    for name in (n for n in architectures("classifiers") if n != "simple_rnn"):
        yield name, build_classifier(name, CONFIG, vocab_size=30, num_classes=3)
    for name in architectures("translators"):
        yield name, build_translator(name, CONFIG.model_copy(update={"bidirectional_encoder": True}), 30, 40)


@pytest.mark.parametrize("name,model", list(_models()), ids=lambda value: value if isinstance(value, str) else "")
def test_recurrent_layers_meet_the_cudnn_conditions(name, model):
    """Keras uses cuDNN only with these settings (keras.layers.LSTM/GRU docs); padding must be on the right."""
    found = list(_recurrent_layers(model))
    assert found, f"{name} has no LSTM/GRU layer"
    for layer in found:
        assert layer.activation is keras.activations.tanh, (name, layer.name)
        assert layer.recurrent_activation is keras.activations.sigmoid, (name, layer.name)
        assert layer.cell.recurrent_dropout == 0, (name, layer.name)
        assert not layer.unroll and layer.cell.use_bias, (name, layer.name)
        if isinstance(layer, layers.GRU):
            assert layer.cell.reset_after, (name, layer.name)


def test_padding_is_on_the_right():
    ids = pad_ids([[5, 6], [7]], 4)
    assert ids.tolist() == [[5, 6, 0, 0], [7, 0, 0, 0]]


def test_models_build_under_mixed_precision_with_float32_outputs():
    from pipeline.devices import set_precision

    try:
        assert set_precision(True) == "mixed_float16"
        model = build_classifier("bilstm_attention", CONFIG, 30, 3)
        assert model.output.dtype == "float32"
        translator = build_translator("seq2seq_bahdanau", CONFIG, 30, 40)
        assert translator.output.dtype == "float32"
    finally:
        set_precision(False)
