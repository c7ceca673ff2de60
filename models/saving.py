"""Loading saved ``.keras`` models: the one place that knows which custom layers they may hold,
and that every loaded model computes in float32."""

from __future__ import annotations

from pathlib import Path


def load_keras_model(path: str | Path):
    """``keras.saving.load_model`` with rnnflow's custom layers registered first, in float32.

    A ``.keras`` file names ``SequenceAttention`` but Keras does not import its module; without
    this import a fresh process (a served pyfunc, an evaluation task) cannot load the model.

    A model trained under ``train.mixed_precision`` keeps its layers' mixed policy in the file, and
    would then predict in bfloat16 or float16 wherever it is loaded: emulated, and slower than
    float32, on a CPU without those units, which is where most models are served. Its weights are
    float32 already, so it is rebuilt with float32 layers: evaluation scores what is served.
    """
    import keras

    import models.attention  # noqa: F401  (registers SequenceAttention as rnnflow>SequenceAttention)

    model = keras.saving.load_model(path)
    if all(layer.dtype_policy.name == "float32" for layer in model._flatten_layers(include_self=False)):
        return model
    rebuilt = keras.Model.from_config(_in_float32(model.get_config()))
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def _in_float32(config):
    """A serialized model's config with every mixed dtype policy replaced by float32."""
    if isinstance(config, list):
        return [_in_float32(item) for item in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "DTypePolicy" and config["config"]["name"].startswith("mixed_"):
        return {**config, "config": {**config["config"], "name": "float32"}}
    return {key: _in_float32(value) for key, value in config.items()}
