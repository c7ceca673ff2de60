"""The served classifier: an MLflow pyfunc that takes raw text and returns labels.

Cleaning, tokenizer, vocabulary and Keras model travel inside the model; the text goes through
the same ``TextProcessor`` as in training, so serving-time ids equal training-time ids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from pipeline.serving.inputs import BadServingInput, StatelessPickle, as_texts

log = logging.getLogger(__name__)

# From this many texts, a request is tokenized by a pool of processes (see token_chunks).
PARALLEL_FROM = 2_000
SERVING_TOKENIZER_WORKERS = 4
# Inference params and their defaults: logged with the input example, they become the
# signature's params, so MLflow validates a request's params against them.
SERVING_PARAMS: dict[str, Any] = {"return_attention": False}
# The output columns, kept in the model's metadata (a DataFrame return has no type-hint schema).
OUTPUT_COLUMNS = {"label": "string", "label_id": "long", "probability": "double",
                  "known_tokens": "long: the text's tokens in the model's vocabulary (0: the answer rests on no "
                                  "known word, e.g. an empty or emoji-only text)",
                  "attention": "list of [token, weight] pairs, with return_attention only"}


def known_counts(id_lists) -> list[int]:
    """Per text, how many of the ids the model saw are in its vocabulary (not the OOV id)."""
    from pipeline.text.vocab import OOV_ID

    return [sum(1 for i in ids if i != OOV_ID) for ids in id_lists]


def _load_member(artifact: str, path: str):
    """(flavor, model) of a model artifact, by its name's ending."""
    if artifact.endswith("keras_model"):
        from models.saving import load_keras_model

        return "keras", load_keras_model(path)
    import mlflow.sklearn

    return "sklearn", mlflow.sklearn.load_model(path)


class RawTextClassifier(StatelessPickle, mlflow.pyfunc.PythonModel):
    """Raw strings -> DataFrame(label, label_id, probability)."""

    def load_context(self, context) -> None:
        from models.text_classifier import LengthBuckets
        from pipeline.io import read_json
        from pipeline.text.parallel import TokenizerPool, default_workers
        from pipeline.text.processor import TextProcessor
        from pipeline.text.spec import TextSpec
        from pipeline.text.vocab import Vocabulary

        spec = TextSpec.read(context.artifacts["text_spec"])
        text_config = spec.source.config
        self.processor = TextProcessor.from_config(text_config)
        # Trained on subword pieces (text.subword_vocab_size): the tokenizer's words are split alike.
        self.subwords = None
        if "subwords" in context.artifacts:
            from pipeline.text.subword import SubwordModel

            self.subwords = SubwordModel(Path(context.artifacts["subwords"]).read_bytes())
        # The serving machine's cores, not the training's text.workers; a few workers keep the gain
        # without a tokenizer (or a konlpy JVM) per core of a large server. They split pieces too.
        self.tokenizer_pool = TokenizerPool(text_config, workers=min(SERVING_TOKENIZER_WORKERS, default_workers()),
                                            subwords=self.subwords.model_bytes if self.subwords else None)
        trained_with = spec.source.tokenizer
        serving_with = self.processor.tokenizer.identity()
        if trained_with != serving_with:
            log.warning("tokenizer differs from training: trained with %s, serving with %s",
                        trained_with, serving_with)
        self.vocab = Vocabulary.from_dict(read_json(context.artifacts["vocab"]))
        self.max_len = spec.source.length
        self.truncate_from = text_config.truncate_from
        self.label_names = list(spec.label_names)
        # One model ("keras_model" or "sklearn_model"), or an ensemble's members ("member_<i>_<flavor>_model"),
        # whose class probabilities are averaged.
        self.members = [_load_member(key, path) for key, path in sorted(context.artifacts.items())
                        if key.endswith(("keras_model", "sklearn_model"))]
        # Each Keras member's compiled forward pass on length buckets (None for a baseline).
        self.forwards = [LengthBuckets(model) if flavor == "keras" else None for flavor, model in self.members]
        # The one Keras model of a single-model pyfunc: what return_attention inspects.
        self.keras_model = self.members[0][1] if len(self.members) == 1 and self.members[0][0] == "keras" else None

    # The type hint makes MLflow validate requests: anything but a list of strings (or a one-column
    # DataFrame of them) is refused with the offending elements named, before the model runs.
    def predict(self, context, model_input: list[str], params: dict[str, Any] | None = None) -> pd.DataFrame:
        """``params={"return_attention": True}`` adds an ``attention`` column for attention models:
        per text, the ``[token, weight]`` pairs the model saw (after truncation, padding left out); a
        model on subword pieces shows the words, each weighted by the sum of its pieces' weights."""
        from models.text_classifier import class_probabilities

        texts = as_texts(model_input)
        return_attention = bool((params or {}).get("return_attention", False))
        if not texts:
            empty = pd.DataFrame({"label": pd.Series(dtype=str), "label_id": pd.Series(dtype=np.int64),
                                  "probability": pd.Series(dtype=np.float64),
                                  "known_tokens": pd.Series(dtype=np.int64)})
            return empty.assign(attention=pd.Series(dtype=object)) if return_attention else empty
        attention, known = None, []
        if return_attention:
            if self.keras_model is None:
                raise BadServingInput("return_attention: this model is a bag-of-words baseline or an ensemble; "
                                      "it has no single attention to show")
            from pipeline.kinds.classification.attention import token_attention

            token_lists = self.tokens(texts)
            known = known_counts(self.ids_of(token_lists))
            outputs, attention = token_attention(self.inspector(), self.vocab, token_lists, self.max_len,
                                                 self.truncate_from, pieces=self.subwords is not None)
            probabilities = class_probabilities(outputs)
        else:
            parts = []
            for token_lists in self.token_chunks(texts):
                ids = self.ids_of(token_lists)
                parts.append(self.probabilities(token_lists, ids))
                known.extend(known_counts(ids))
            probabilities = np.concatenate(parts)
        label_ids = probabilities.argmax(axis=1)
        result = pd.DataFrame({
            "label": [self.label_names[i] for i in label_ids],
            "label_id": label_ids.astype(np.int64),
            "probability": probabilities[np.arange(len(texts)), label_ids],
            "known_tokens": np.asarray(known, dtype=np.int64),
        })
        if attention is not None:
            result["attention"] = [[[token, round(float(weight), 6)] for token, weight in pairs]
                                   for pairs in attention]
        return result

    def probabilities(self, token_lists: Sequence[Sequence[str]], ids: Sequence[Sequence[int]]) -> np.ndarray:
        """(texts, classes): each member's probabilities (a Keras model on the ids, a baseline on the
        space-joined tokens), averaged over the members."""
        from models.text_classifier import class_probabilities

        total = None
        for (_, model), forward in zip(self.members, self.forwards):
            if forward is not None:
                member = class_probabilities(forward(ids))
            else:
                member = np.asarray(model.predict_proba([" ".join(tokens) for tokens in token_lists]), dtype=np.float64)
            total = member if total is None else total + member
        return total / len(self.members)

    def inspector(self):
        """The Keras model with its attention weights as a second output (built once, on first use)."""
        if getattr(self, "_inspector", None) is None:
            from models.text_classifier import attention_inspector

            try:
                self._inspector = attention_inspector(self.keras_model)
            except ValueError as exc:
                raise BadServingInput(f"return_attention: {exc}") from exc
        return self._inspector

    def token_chunks(self, texts: Sequence[str]):
        """Each chunk's token lists (subword pieces for a model trained on pieces), in order. A
        large request is tokenized by a pool of processes while the caller runs the model on the
        chunks already done; a small one here (no start-up, no pickling)."""
        if len(texts) < PARALLEL_FROM or self.tokenizer_pool.workers < 2:
            tokens = [self.processor.tokens(text) for text in texts]
            yield tokens if self.subwords is None else [self.subwords.pieces(row) for row in tokens]
        else:  # the pool's workers split the pieces
            yield from self.tokenizer_pool.chunks(texts, max(500, -(-len(texts) // 8)))

    def tokens(self, texts: Sequence[str]) -> list[list[str]]:
        return [tokens for chunk in self.token_chunks(texts) for tokens in chunk]

    def ids_of(self, token_lists: Sequence[Sequence[str]]) -> list[Sequence[int]]:
        """Token ids as the model saw them in training: cut to ``max_len`` from ``truncate_from``."""
        from pipeline.text.vocab import truncate

        return [truncate(self.vocab.encode(tokens), self.max_len, self.truncate_from) for tokens in token_lists]
