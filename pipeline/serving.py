"""The served model: an MLflow pyfunc that takes raw text and returns labels.

Cleaning, tokenizer, vocabulary and Keras model travel inside the model; the text goes through
the same ``TextProcessor`` as in training, so serving-time ids equal training-time ids.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import mlflow.pyfunc
import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

TEXT_COLUMN = "text"


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
        raise TypeError(f"input must be text, a list of texts or a DataFrame; got {type(model_input).__name__}")
    for row, value in enumerate(values):
        if not isinstance(value, str):
            raise ValueError(f"input row {row}: expected a string, got {type(value).__name__} {value!r}")
    return list(values)


class RawTextClassifier(mlflow.pyfunc.PythonModel):
    """Raw strings -> DataFrame(label, label_id, probability)."""

    def load_context(self, context) -> None:
        from pipeline.config import TextConfig
        from pipeline.io import read_json
        from pipeline.text.processor import TextProcessor
        from pipeline.text.vocab import Vocabulary

        spec = read_json(context.artifacts["text_spec"])
        self.processor = TextProcessor.from_config(TextConfig.model_validate(spec["text_config"]))
        trained_with = spec["processor"]["tokenizer"]
        serving_with = self.processor.tokenizer.identity()
        if trained_with != serving_with:
            log.warning("tokenizer differs from training: trained with %s, serving with %s",
                        trained_with, serving_with)
        self.vocab = Vocabulary.from_dict(read_json(context.artifacts["vocab"]))
        self.max_len = int(spec["max_len"])
        self.truncate_from = spec["text_config"]["truncate_from"]
        self.label_names = list(spec["label_names"])
        if "keras_model" in context.artifacts:
            import keras

            self.keras_model = keras.saving.load_model(context.artifacts["keras_model"])
            self.baseline = None
        else:
            import mlflow.sklearn

            self.baseline = mlflow.sklearn.load_model(context.artifacts["sklearn_model"])
            self.keras_model = None

    def predict(self, context, model_input, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from models.classifiers import class_probabilities
        from pipeline.text.vocab import pad_ids

        texts = as_texts(model_input)
        if not texts:
            return pd.DataFrame({"label": pd.Series(dtype=str), "label_id": pd.Series(dtype=np.int64),
                                 "probability": pd.Series(dtype=np.float64)})
        token_lists = [self.processor.tokens(text) for text in texts]
        if self.baseline is not None:
            probabilities = self.baseline.predict_proba([" ".join(tokens) for tokens in token_lists])
        else:
            ids = pad_ids([self.vocab.encode(tokens) for tokens in token_lists], self.max_len, self.truncate_from)
            probabilities = class_probabilities(self.keras_model.predict(ids, batch_size=256, verbose=0))
        label_ids = probabilities.argmax(axis=1)
        return pd.DataFrame({
            "label": [self.label_names[i] for i in label_ids],
            "label_id": label_ids.astype(np.int64),
            "probability": probabilities[np.arange(len(texts)), label_ids],
        })
