"""Evaluating a translator: the whole test split decoded greedily and with beam search, both scored
with sacrebleu (BLEU, chrF) against every reference of a source as the target side's cleaner
leaves them (lower-cased, NFC); sample translations and alignment heatmaps.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import PipelineConfig
from pipeline.io import read_json
from pipeline.kinds.translation.features import (
    SOURCE_VOCAB_FILE,
    TARGET_VOCAB_FILE,
    TranslationFeatures,
)
from pipeline.results import (
    FEATURES_FILE,
    TEXT_SPEC_FILE,
    TrainResult,
    predictions_artifact,
)
from pipeline.text.vocab import EOS_TOKEN, SOS_TOKEN, Vocabulary

log = logging.getLogger(__name__)

SAMPLE_TRANSLATIONS = 50
ALIGNMENT_EXAMPLES = 6
# Heatmaps show at most this many output tokens: a degenerate model's 50-token loops made a
# 4,500-pixel figure nobody could read.
ALIGNMENT_MAX_OUTPUT = 30


@dataclass(frozen=True)
class TranslationSet:
    """Sources, references and the decoder's special ids for one split."""

    source_ids: np.ndarray
    sources: list[str]
    references: list[str]
    sos: int
    eos: int

    def by_source(self) -> tuple[np.ndarray, list[list[str]]]:
        """The rows to translate and, for each, every reference the split holds for its source.

        Parallel corpora repeat a source with different translations (fra.txt: 1,706 of 4,920 test
        sources have 2-12). Scored row by row, one output would be compared with each translation
        separately and counted once per repeat; scored once per source against all of them, an
        output that matches any translation counts as it should (multi-reference BLEU).
        """
        first_row: dict[str, int] = {}
        references: dict[str, list[str]] = {}
        for row, (source, reference) in enumerate(zip(self.sources, self.references)):
            first_row.setdefault(source, row)
            references.setdefault(source, []).append(reference)
        return np.array(list(first_row.values()), dtype=int), list(references.values())


def load_split(features_dir: str | Path, split: str) -> TranslationSet:
    from pipeline.text.cleaning import TextCleaner
    from pipeline.text.spec import TextSpec

    features_dir = Path(features_dir)
    spec = TextSpec.read(features_dir / TEXT_SPEC_FILE)
    target_vocab = Vocabulary.from_dict(read_json(features_dir / TARGET_VOCAB_FILE))
    with np.load(features_dir / FEATURES_FILE) as arrays:
        source_ids, rows = arrays[f"x_{split}"], arrays[f"row_{split}"]
    table = pd.read_parquet(spec.table_path, columns=["source", "target"])
    target_config = spec.target.config
    cleaner = TextCleaner(target_config.keep, target_config.lowercase, target_config.max_char_repeat)
    return TranslationSet(source_ids, table["source"].to_numpy()[rows].tolist(),
                          [cleaner(text) for text in table["target"].to_numpy()[rows]],
                          target_vocab.id_of(SOS_TOKEN), target_vocab.id_of(EOS_TOKEN))


def corpus_scores(hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu), each hypothesis against its own list of references."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} reference lists")
    depth = max((len(refs) for refs in references), default=1)
    # sacrebleu takes reference *streams*; None where a segment has fewer references.
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(depth)]
    return {"bleu": float(sacrebleu.corpus_bleu(hypotheses, streams).score),
            "chrf": float(sacrebleu.corpus_chrf(hypotheses, streams).score)}


def evaluate_translator(config: PipelineConfig, prepared: TranslationFeatures, model, arch: str,
                        log_to_mlflow: bool = True) -> dict[str, float]:
    """Greedy and beam search over the test split; ``bleu``/``chrf`` are the served decoding's."""
    from models.decoding import beam_decode, greedy_decode
    from models.seq2seq import InferenceModels, has_attention
    from pipeline.text.tokenizers import detokenize

    test = load_split(prepared.features_dir, "test")
    rows, reference_sets = test.by_source()
    source_ids = test.source_ids[rows]
    target_vocab = Vocabulary.from_dict(read_json(Path(prepared.features_dir) / TARGET_VOCAB_FILE))
    inference = InferenceModels.from_training_model(model)
    decode = config.decode
    outputs, scores = {}, {"sources": len(rows), "references": len(test.references)}
    for method in ("greedy", "beam"):
        start = time.perf_counter()
        if method == "greedy":
            decoded = greedy_decode(inference, source_ids, test.sos, test.eos, prepared.max_output_len,
                                    batch_size=decode.batch_size)
        else:
            decoded = beam_decode(inference, source_ids, test.sos, test.eos, prepared.max_output_len,
                                  beam_width=decode.beam_width, alpha=decode.length_penalty,
                                  batch_size=max(1, decode.batch_size // decode.beam_width))
        seconds = time.perf_counter() - start
        outputs[method] = decoded
        hypotheses = [detokenize(target_vocab.decode(d.ids), config.target_text) for d in decoded]
        for name, value in corpus_scores(hypotheses, reference_sets).items():
            scores[f"{name}_{method}"] = value
        scores[f"{method}_sentences_per_second"] = len(decoded) / seconds
        outputs[f"{method}_text"] = hypotheses
    served = "beam" if decode.beam_width > 1 else "greedy"
    scores["bleu"], scores["chrf"] = scores[f"bleu_{served}"], scores[f"chrf_{served}"]
    scores["inference_sentences_per_second"] = scores[f"{served}_sentences_per_second"]
    if log_to_mlflow:
        import mlflow

        _log_evaluation(arch, prepared, test, rows, reference_sets, outputs, scores, has_attention(model),
                        target_vocab)
        # What the promotion gate compares: the served decoding's output per test source.
        mlflow.log_dict({"test_digest": prepared.test_digest, "predictions": outputs[f"{served}_text"]},
                        predictions_artifact(prepared.test_digest))
    return scores


def _log_evaluation(arch, prepared, test: TranslationSet, rows: np.ndarray, reference_sets: list[list[str]],
                    outputs, scores, attention: bool, target_vocab) -> None:
    """Sample translations and alignments; ``outputs`` follow ``rows`` (one per test source)."""
    import mlflow

    from pipeline.plots import alignment_heatmap

    count = min(SAMPLE_TRANSLATIONS, len(rows))
    shown_at = np.unique(np.linspace(0, len(rows) - 1, count).round().astype(int))
    mlflow.log_table(pd.DataFrame({
        "source": [test.sources[rows[j]] for j in shown_at],
        "references": [" | ".join(reference_sets[j]) for j in shown_at],
        "greedy": [outputs["greedy_text"][j] for j in shown_at], "beam": [outputs["beam_text"][j] for j in shown_at],
    }), "evaluation/sample_translations.json")
    if attention:
        source_vocab = Vocabulary.from_dict(read_json(Path(prepared.features_dir) / SOURCE_VOCAB_FILE))
        examples = []
        for j in shown_at[: ALIGNMENT_EXAMPLES]:
            decoded, row = outputs["greedy"][j], rows[j]
            source_tokens = source_vocab.decode(test.source_ids[row])
            shown = decoded.ids[:ALIGNMENT_MAX_OUTPUT]
            more = f" (first {len(shown)} of {len(decoded.ids)} output tokens)" if len(shown) < len(decoded.ids) else ""
            examples.append({"source_tokens": source_tokens, "output_tokens": target_vocab.decode(shown),
                             "weights": decoded.attention[: len(shown), : len(source_tokens)].tolist(),
                             "caption": f"test row {int(row)}: {test.sources[row][:60]}{more}"})
        if any(example["output_tokens"] for example in examples):
            mlflow.log_dict(examples, "evaluation/alignments.json")
            mlflow.log_figure(alignment_heatmap([e for e in examples if e["output_tokens"]],
                                                f"{arch}: attention, source against output"),
                              "evaluation/alignment_heatmap.png")


def evaluate_trained_translator(config: PipelineConfig, prepared: TranslationFeatures,
                                trained: TrainResult) -> dict[str, float]:
    """The trained model from its MLflow run, scored and logged into the active run."""
    import mlflow

    from models.saving import load_keras_model

    model = load_keras_model(mlflow.artifacts.download_artifacts(trained.model_uri))
    return evaluate_translator(config, prepared, model, trained.arch)


def translation_test_predictions(model_uri: str, prepared) -> list[str]:
    """A registered translator's outputs for this run's test sources (one per distinct source),
    with its own default decoding."""
    import mlflow

    test = load_split(prepared.features_dir, "test")
    rows, _ = test.by_source()
    sources = [test.sources[row] for row in rows]
    return mlflow.pyfunc.load_model(model_uri).predict(sources)["translation"].tolist()


def compare_translations(candidate: list[str], champion: list[str], prepared, metric: str, seed: int = 0):
    """Paired bootstrap of BLEU or chrF (sacrebleu.significance, 1,000 resamples) on the test
    sources against all their references. sacrebleu's p-value is two-sided (|difference|); the
    gate's question is one-sided, so it is halved when the candidate scores higher and 1 - p/2
    otherwise."""
    import sacrebleu
    from sacrebleu.significance import PairedTest

    from pipeline.registry.significance import BOOTSTRAP_SAMPLES, Comparison

    test = load_split(prepared.features_dir, "test")
    _, reference_sets = test.by_source()
    depth = max((len(refs) for refs in reference_sets), default=1)
    streams = [[refs[k] if k < len(refs) else None for refs in reference_sets] for k in range(depth)]
    metric_object = {"bleu": sacrebleu.metrics.BLEU(), "chrf": sacrebleu.metrics.CHRF()}[metric]
    test_run = PairedTest([("baseline", champion), ("candidate", candidate)], {metric: metric_object}, streams,
                          test_type="bs", n_samples=BOOTSTRAP_SAMPLES)
    _, results = test_run()
    # Keyed by sacrebleu's own metric name ("BLEU", "chrF"), beside the system names.
    champion_result, candidate_result = next(value for key, value in results.items() if key != "System")
    difference = candidate_result.score - champion_result.score
    two_sided = candidate_result.p_value
    p_value = two_sided / 2 if difference > 0 else 1 - two_sided / 2
    # sacrebleu reports the 95% bootstrap half-width of the candidate's score, not of the paired
    # difference: used around the difference it is wider (more cautious) than the paired interval.
    half_width = candidate_result.ci
    return Comparison(metric, f"paired bootstrap, sacrebleu ({BOOTSTRAP_SAMPLES} resamples, one-sided)",
                      len(candidate), candidate_result.score, champion_result.score, difference,
                      difference - half_width, difference + half_width, float(p_value))
