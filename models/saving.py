"""Loading saved ``.keras`` models: the one place that knows which custom layers they may hold."""

from __future__ import annotations

from pathlib import Path


def load_keras_model(path: str | Path):
    """``keras.saving.load_model`` with rnnflow's custom layers registered first.

    A ``.keras`` file names ``SequenceAttention`` but Keras does not import its module; without
    this import a fresh process (a served pyfunc, an evaluation task) cannot load the model.
    """
    import keras

    import models.attention  # noqa: F401  (registers SequenceAttention as rnnflow>SequenceAttention)

    return keras.saving.load_model(path)
