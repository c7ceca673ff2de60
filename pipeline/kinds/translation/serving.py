"""The served translator: an MLflow pyfunc that takes raw source sentences and returns translations."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from pipeline.serving.inputs import BadServingInput, StatelessPickle, as_texts


def translator_params(beam_width: int = 5, length_penalty: float = 1.0) -> dict[str, Any]:
    """The decoding params and their defaults, logged with the input example as the signature's params.

    MLflow fills unspecified params from these defaults, so they must be the run's own
    ``decode`` settings, or a caller who sets nothing would get another decoding than evaluated."""
    return {"beam_width": int(beam_width), "length_penalty": float(length_penalty), "max_length": 0,
            "return_attention": False}


OUTPUT_COLUMNS = {"translation": "string", "score": "double",
                  "attention": "source_tokens, output_tokens and weights, with return_attention only"}


class RawTextTranslator(StatelessPickle, mlflow.pyfunc.PythonModel):
    """Raw source sentences -> DataFrame(translation, score[, attention]).

    ``params``: ``beam_width`` (1 = greedy), ``length_penalty``, ``max_length`` (0 = the trained
    limit), ``return_attention`` (per sentence the output tokens' weights over the source tokens).
    """

    def load_context(self, context) -> None:
        from models.saving import load_keras_model
        from models.seq2seq import InferenceModels
        from pipeline.io import read_json
        from pipeline.text.processor import TextProcessor
        from pipeline.text.spec import TextSpec
        from pipeline.text.vocab import EOS_TOKEN, SOS_TOKEN, Vocabulary

        spec = TextSpec.read(context.artifacts["text_spec"])
        self.source = TextProcessor.from_config(spec.source.config)
        self.target_text = spec.target.config
        self.source_vocab = Vocabulary.from_dict(read_json(context.artifacts["source_vocab"]))
        self.target_vocab = Vocabulary.from_dict(read_json(context.artifacts["target_vocab"]))
        self.source_len = spec.source.length
        self.truncate_from = spec.source.config.truncate_from
        self.max_output_len = int(spec.max_output_len)
        self.defaults = spec.decode
        self.sos, self.eos = self.target_vocab.id_of(SOS_TOKEN), self.target_vocab.id_of(EOS_TOKEN)
        self.inference = InferenceModels.from_training_model(load_keras_model(context.artifacts["keras_model"]))

    def predict(self, context, model_input: list[str], params: dict[str, Any] | None = None) -> pd.DataFrame:
        from models.decoding import beam_decode, greedy_decode
        from pipeline.text.tokenizers import detokenize
        from pipeline.text.vocab import pad_ids, truncate

        params = params or {}
        beam_width = int(params.get("beam_width") or self.defaults["beam_width"])
        alpha = float(params.get("length_penalty", self.defaults["length_penalty"]))
        max_length = int(params.get("max_length") or self.max_output_len)
        if beam_width < 1 or max_length < 1:
            raise BadServingInput(f"beam_width ({beam_width}) and max_length ({max_length}) must be at least 1")
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
