"""Every recurrent layer can run on cuDNN and models build under mixed precision (queue routing: tests/dags)."""

import pytest
from keras import layers

from models.config import ModelConfig
from models.registry import build_classifier, build_translator
from pipeline.text.vocab import pad_ids
from pipeline.training.devices import (
    cpu_flags,
    cudnn_problems,
    mixed_policy,
    set_precision,
)

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


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_models_build_under_mixed_precision_with_float32_outputs(policy):
    import keras

    try:
        keras.mixed_precision.set_global_policy(policy)
        model = build_classifier("bilstm_attention", CONFIG, 30, 3)
        assert model.output.dtype == "float32"
        assert model.get_layer("embedding").compute_dtype == policy.removeprefix("mixed_")
        translator = build_translator("seq2seq_bahdanau", CONFIG, 30, 40)
        assert translator.output.dtype == "float32"
    finally:
        set_precision(False)


@pytest.mark.parametrize(("has_gpu", "flags", "policy"), [
    (True, set(), "mixed_float16"),
    (True, {"amx_bf16"}, "mixed_float16"),
    (False, {"avx2", "amx_bf16", "amx_tile"}, "mixed_bfloat16"),
    (False, {"avx512f", "avx512_bf16"}, "mixed_bfloat16"),
    # float16 on a CPU, or bfloat16 without its units, is emulated and slower than float32.
    (False, {"avx2", "avx512f", "avx512_fp16"}, "float32"),
    (False, set(), "float32"),
])
def test_mixed_precision_takes_the_type_the_devices_run_natively(has_gpu, flags, policy):
    assert mixed_policy(has_gpu, flags) == policy


def test_cpu_flags_are_read_from_the_first_processor(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 amx_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "amx_bf16"}
    assert cpu_flags(tmp_path / "absent") == set()


def test_asking_for_mixed_precision_without_fast_units_trains_in_float32(monkeypatch, caplog):
    import keras

    import pipeline.training.devices

    monkeypatch.setattr(pipeline.training.devices, "cpu_flags", lambda: {"avx2"})
    try:
        assert set_precision(True) == "float32"
        assert keras.mixed_precision.global_policy().name == "float32"
        assert "no bfloat16 instructions" in caplog.text
    finally:
        set_precision(False)


@pytest.mark.parametrize("name", ["bilstm_attention", "seq2seq_bahdanau"])
def test_a_model_trained_in_mixed_precision_loads_in_float32_with_its_weights(tmp_path, name):
    import keras
    import numpy as np

    from models.registry import family_of
    from models.saving import load_keras_model

    try:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        if family_of(name) == "classifiers":
            model = build_classifier(name, CONFIG, 30, 3)
        else:
            model = build_translator(name, CONFIG, 30, 40)
    finally:
        set_precision(False)
    model.save(tmp_path / "model.keras")
    loaded = load_keras_model(tmp_path / "model.keras")
    policies = {layer.dtype_policy.name for layer in loaded._flatten_layers(include_self=False)}
    assert policies == {"float32"}
    for saved, restored in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, restored)
    ids = np.array([[3, 4, 5, 0], [6, 0, 0, 0]], dtype="int32")
    inputs = ids if family_of(name) == "classifiers" else [ids, ids]
    # The same function up to bfloat16's rounding of the mixed model's activations.
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0), atol=0.02)
