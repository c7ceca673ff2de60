"""Every recurrent layer can run on cuDNN and models build under mixed precision (queue routing: tests/dags)."""


from keras import layers

from models.config import ModelConfig
from models.registry import build_classifier, build_translator
from pipeline.devices import cudnn_problems
from pipeline.text.vocab import pad_ids

CONFIG = ModelConfig(embedding_dim=8, units=4, conv_filters=4, attention_units=4)


def test_recurrent_layers_meet_the_cudnn_conditions():
    """Keras uses cuDNN only with these settings (keras.layers.LSTM/GRU docs); padding must be on the right."""
    assert cudnn_problems() == []


def test_a_layer_off_the_cudnn_conditions_is_named(monkeypatch):
    import models.registry

    build = models.registry.build_classifier

    def with_recurrent_dropout(name, config, **kwargs):
        model = build(name, config, **kwargs)
        for layer in model._flatten_layers(include_self=False, recursive=True):
            if isinstance(layer, layers.LSTM):
                layer.cell.recurrent_dropout = 0.2
        return model

    monkeypatch.setattr(models.registry, "build_classifier", with_recurrent_dropout)
    problems = cudnn_problems()
    assert any(problem.startswith("lstm/") and problem.endswith("not recurrent_dropout is 0") for problem in problems)


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
