"""What every served rnnflow model shares: how raw-text input arrives, and the packages pinned
into a logged model so that ``mlflow models serve`` builds the same stack."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

TEXT_COLUMN = "text"


class BadServingInput(MlflowException, ValueError):
    """A request the model cannot answer: an MLflowException with INVALID_PARAMETER_VALUE, so the
    scoring server answers 400 with this one message (any other exception is a response carrying
    a server stack trace); a ValueError for in-process callers."""

    def __init__(self, message: str):
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


class StatelessPickle:
    """For an ``mlflow.pyfunc.PythonModel``: MLflow runs ``load_context`` on the instance to predict
    the input example while logging, then cloudpickles that same instance. Everything loaded is
    rebuilt from the artifacts by ``load_context``, so pickling it too would store the Keras model
    twice and need its custom layers importable just to unpickle."""

    def __getstate__(self) -> dict:
        return {}


def as_texts(model_input: Any) -> list[str]:
    """Accept a string, a list of strings, a Series, or a DataFrame with a ``text`` column."""
    if isinstance(model_input, str):
        values: Sequence[Any] = [model_input]
    elif isinstance(model_input, pd.DataFrame):
        if TEXT_COLUMN in model_input.columns:
            values = model_input[TEXT_COLUMN].tolist()
        elif model_input.shape[1] == 1:
            values = model_input.iloc[:, 0].tolist()
        else:
            raise ValueError(f"input DataFrame needs a {TEXT_COLUMN!r} column; got {list(model_input.columns)}")
    elif isinstance(model_input, (pd.Series, np.ndarray, list, tuple)):
        values = list(model_input)
    else:
        raise BadServingInput(f"input must be text, a list of texts or a DataFrame; got {type(model_input).__name__}")
    for row, value in enumerate(values):
        if not isinstance(value, str):
            raise BadServingInput(f"input row {row}: expected a string, got {type(value).__name__} {str(value)[:40]!r}")
    return list(values)


# Pinned into the logged model so `mlflow models serve` builds the same stack.
SERVING_PACKAGES = ("tensorflow-cpu", "keras", "mlflow", "pandas", "numpy", "scikit-learn", "pydantic",
                    "pyyaml", "konlpy", "jpype1", "python-mecab-ko", "python-mecab-ko-dic")


def pinned_requirements() -> list[str]:
    pins = []
    for package in SERVING_PACKAGES:
        try:
            pins.append(f"{package}=={importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins
