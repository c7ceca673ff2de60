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


def serving_signature():
    """One unnamed string column in (a list of strings, a string, or a one-column DataFrame);
    label, label_id, probability out; ``return_attention`` adds an ``attention`` column."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string")]),
        outputs=Schema([ColSpec("string", "label"), ColSpec("long", "label_id"), ColSpec("double", "probability")]),
        params=ParamSchema([ParamSpec("return_attention", "boolean", False)]),
    )


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
            from models.saving import load_keras_model

            self.keras_model = load_keras_model(context.artifacts["keras_model"])
            self.baseline = None
        else:
            import mlflow.sklearn

            self.baseline = mlflow.sklearn.load_model(context.artifacts["sklearn_model"])
            self.keras_model = None

    def predict(self, context, model_input, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """``params={"return_attention": True}`` adds an ``attention`` column for attention models:
        per text, the ``[token, weight]`` pairs the model saw (after truncation, padding left out)."""
        from models.classifiers import class_probabilities

        texts = as_texts(model_input)
        return_attention = bool((params or {}).get("return_attention", False))
        if return_attention and self.keras_model is None:
            raise ValueError("return_attention: this model is a bag-of-words baseline, it has no attention")
        if not texts:
            empty = pd.DataFrame({"label": pd.Series(dtype=str), "label_id": pd.Series(dtype=np.int64),
                                  "probability": pd.Series(dtype=np.float64)})
            return empty.assign(attention=pd.Series(dtype=object)) if return_attention else empty
        token_lists = [self.processor.tokens(text) for text in texts]
        attention = None
        if self.baseline is not None:
            probabilities = self.baseline.predict_proba([" ".join(tokens) for tokens in token_lists])
        elif return_attention:
            outputs, attention = token_attention(self.inspector(), self.vocab, token_lists, self.max_len,
                                                 self.truncate_from)
            probabilities = class_probabilities(outputs)
        else:
            ids = self.encode(token_lists)
            probabilities = class_probabilities(self.keras_model.predict(ids, batch_size=256, verbose=0))
        label_ids = probabilities.argmax(axis=1)
        result = pd.DataFrame({
            "label": [self.label_names[i] for i in label_ids],
            "label_id": label_ids.astype(np.int64),
            "probability": probabilities[np.arange(len(texts)), label_ids],
        })
        if attention is not None:
            result["attention"] = [[[token, round(float(weight), 6)] for token, weight in pairs]
                                   for pairs in attention]
        return result

    def inspector(self):
        """The Keras model with its attention weights as a second output (built once, on first use)."""
        if getattr(self, "_inspector", None) is None:
            from models.classifiers import attention_inspector

            try:
                self._inspector = attention_inspector(self.keras_model)
            except ValueError as exc:
                raise ValueError(f"return_attention: {exc}") from exc
        return self._inspector

    def encode(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        from pipeline.text.vocab import pad_ids

        return pad_ids([self.vocab.encode(tokens) for tokens in token_lists], self.max_len, self.truncate_from)


def token_attention(inspector, vocab, token_lists: Sequence[Sequence[str]], max_len: int,
                    truncate_from: str) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
    """(model outputs, per text the (token, attention weight) pairs over the tokens it saw).

    Tokens are the text's own (not ``<unk>``), cut the way ``pad_ids`` cuts them, so weight i
    belongs to token i. ``inspector`` is ``models.classifiers.attention_inspector(model)``.
    """
    from pipeline.text.vocab import pad_ids, truncate

    ids = pad_ids([vocab.encode(tokens) for tokens in token_lists], max_len, truncate_from)
    outputs, weights = inspector.predict(ids, batch_size=256, verbose=0)  # weights: (batch, max_len)
    pairs = []
    for row, tokens in enumerate(token_lists):
        seen = list(truncate(list(tokens), max_len, truncate_from))
        pairs.append([(token, float(weights[row, position])) for position, token in enumerate(seen)])
    return np.asarray(outputs), pairs


def translator_signature(beam_width: int = 5, length_penalty: float = 1.0):
    """Raw source strings in; ``translation`` (and ``score``) out; decoding options as params.

    MLflow fills unspecified params from these defaults, so they must be the run's own
    ``decode`` settings, or a caller who sets nothing would get another decoding than evaluated."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string")]),
        outputs=Schema([ColSpec("string", "translation"), ColSpec("double", "score")]),
        params=ParamSchema([ParamSpec("beam_width", "long", beam_width),
                            ParamSpec("length_penalty", "double", float(length_penalty)),
                            ParamSpec("max_length", "long", 0), ParamSpec("return_attention", "boolean", False)]),
    )


class RawTextTranslator(mlflow.pyfunc.PythonModel):
    """Raw source sentences -> DataFrame(translation, score[, attention]).

    ``params``: ``beam_width`` (1 = greedy), ``length_penalty``, ``max_length`` (0 = the trained
    limit), ``return_attention`` (per sentence the output tokens' weights over the source tokens).
    """

    def load_context(self, context) -> None:
        from models.saving import load_keras_model
        from models.seq2seq import InferenceModels
        from pipeline.config import TextConfig
        from pipeline.io import read_json
        from pipeline.text.processor import TextProcessor
        from pipeline.text.vocab import EOS_TOKEN, SOS_TOKEN, Vocabulary

        spec = read_json(context.artifacts["text_spec"])
        self.source = TextProcessor.from_config(TextConfig.model_validate(spec["source_text_config"]))
        self.target_text = TextConfig.model_validate(spec["target_text_config"])
        self.source_vocab = Vocabulary.from_dict(read_json(context.artifacts["source_vocab"]))
        self.target_vocab = Vocabulary.from_dict(read_json(context.artifacts["target_vocab"]))
        self.source_len = int(spec["source_len"])
        self.truncate_from = spec["source_text_config"]["truncate_from"]
        self.max_output_len = int(spec["max_output_len"])
        self.defaults = spec["decode"]
        self.sos, self.eos = self.target_vocab.id_of(SOS_TOKEN), self.target_vocab.id_of(EOS_TOKEN)
        self.inference = InferenceModels.from_training_model(load_keras_model(context.artifacts["keras_model"]))

    def predict(self, context, model_input, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from models.decoding import beam_decode, greedy_decode
        from pipeline.text.tokenizers import detokenize
        from pipeline.text.vocab import pad_ids, truncate

        params = params or {}
        beam_width = int(params.get("beam_width") or self.defaults["beam_width"])
        alpha = float(params.get("length_penalty", self.defaults["length_penalty"]))
        max_length = int(params.get("max_length") or self.max_output_len)
        if beam_width < 1 or max_length < 1:
            raise ValueError(f"beam_width ({beam_width}) and max_length ({max_length}) must be at least 1")
        texts = as_texts(model_input)
        if not texts:
            return pd.DataFrame({"translation": pd.Series(dtype=str), "score": pd.Series(dtype=np.float64)})
        token_lists = [self.source.tokens(text) for text in texts]
        ids = pad_ids([self.source_vocab.encode(tokens) for tokens in token_lists], self.source_len,
                      self.truncate_from)
        if beam_width == 1:
            decoded = greedy_decode(self.inference, ids, self.sos, self.eos, max_length)
        else:
            decoded = beam_decode(self.inference, ids, self.sos, self.eos, max_length, beam_width, alpha,
                                  batch_size=max(1, 128 // beam_width))
        outputs = [self.target_vocab.decode(d.ids) for d in decoded]
        result = pd.DataFrame({"translation": [detokenize(tokens, self.target_text) for tokens in outputs],
                               "score": [d.score for d in decoded]})
        if params.get("return_attention"):
            result["attention"] = [
                {"source_tokens": list(truncate(tokens, self.source_len, self.truncate_from)),
                 "output_tokens": out, "weights": d.attention[:, : len(truncate(tokens, self.source_len,
                                                                             self.truncate_from))].round(4).tolist()}
                for tokens, out, d in zip(token_lists, outputs, decoded)]
        return result
