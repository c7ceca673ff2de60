"""Translation: raw source sentences -> target sentences with LSTM encoder-decoders (AI Hub
Korean-English, line-aligned files, tab-separated pairs such as fra.txt).

``KIND`` is the ``pipeline.kinds.TaskKind`` the stages call; the modules beside this one hold
its parts: ``features`` (pair table and token ids per side), ``training`` (teacher forcing),
``evaluation`` (greedy and beam decoding, BLEU/chrF, alignments) and ``serving`` (the pyfunc).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.names import TRANSLATION

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.checks.report import Finding
    from pipeline.config import PipelineConfig
    from pipeline.corpora.base import CorpusRead
    from pipeline.kinds import ServingParts
    from pipeline.kinds.translation.features import TranslationFeatures
    from pipeline.registry.significance import Comparison
    from pipeline.results import (
        EvalResult,
        FitStats,
        IngestResult,
        PreparedFeatures,
        TrainResult,
    )
    from pipeline.tracking.lineage import Lineage
    from pipeline.training.fitting import FitHooks


class Translation:
    name = TRANSLATION
    comparison_metrics = ("test_bleu", "test_chrf")

    def build_table(self, read: CorpusRead, config: PipelineConfig,
                    data_digest: str) -> tuple[pd.DataFrame, dict]:
        from pipeline.kinds.translation.features import parallel_table

        return parallel_table(read, config, data_digest)

    def validate(self, config: PipelineConfig, table: pd.DataFrame, report: dict,
                 reference: dict | None) -> tuple[list[Finding], dict, dict | None]:
        from pipeline.kinds.translation.checks import validate_pairs

        return validate_pairs(config, table, report, reference)

    def feature_findings(self, config: PipelineConfig, prepared: PreparedFeatures) -> list[Finding]:
        return []  # out-of-vocabulary targets are measured by BLEU/chrF; sources by the tokenizer's pieces

    def prepare(self, config: PipelineConfig, ingested: IngestResult) -> TranslationFeatures:
        from pipeline.kinds.translation.features import prepare_translation

        return prepare_translation(config, ingested)

    def features_from_xcom(self, data: dict) -> TranslationFeatures:
        from pipeline.kinds.translation.features import TranslationFeatures

        return TranslationFeatures.from_xcom(data)

    def model_flavor(self, arch: str) -> str:
        return "keras"

    def fit(self, config: PipelineConfig, prepared: TranslationFeatures, arch: str,
            lineage: Lineage, hooks: FitHooks | None = None) -> FitStats:
        from pipeline.kinds.translation.training import fit_seq2seq

        return fit_seq2seq(config, prepared, arch, lineage, hooks)

    def evaluate(self, config: PipelineConfig, prepared: TranslationFeatures,
                 trained: TrainResult) -> dict[str, float]:
        from pipeline.kinds.translation.evaluation import evaluate_trained_translator

        return evaluate_trained_translator(config, prepared, trained)

    def test_predictions(self, model_uri: str, prepared: TranslationFeatures) -> list[str]:
        from pipeline.kinds.translation.evaluation import translation_test_predictions

        return translation_test_predictions(model_uri, prepared)

    def compare(self, candidate: list[str], champion: list[str], prepared: TranslationFeatures, metric: str,
                seed: int) -> Comparison:
        from pipeline.kinds.translation.evaluation import compare_translations

        return compare_translations(candidate, champion, prepared, metric, seed)

    def ensemble(self, config: PipelineConfig, prepared: TranslationFeatures, evaluations: list[EvalResult],
                 parent_run_id: str, lineage: Lineage) -> None:
        """Translation models are not combined (averaging decoders step by step is not built)."""
        return None

    def serving_parts(self, config: PipelineConfig, prepared: TranslationFeatures, best: EvalResult,
                      model_path: str) -> ServingParts:
        from pipeline.kinds import ServingParts
        from pipeline.kinds.translation.evaluation import load_split
        from pipeline.kinds.translation.features import (
            SOURCE_VOCAB_FILE,
            TARGET_VOCAB_FILE,
        )
        from pipeline.kinds.translation.serving import (
            OUTPUT_COLUMNS,
            RawTextTranslator,
            translator_params,
        )
        from pipeline.results import TEXT_SPEC_FILE

        artifacts = {"keras_model": model_path, "text_spec": str(prepared.path(TEXT_SPEC_FILE)),
                     "source_vocab": str(prepared.path(SOURCE_VOCAB_FILE)),
                     "target_vocab": str(prepared.path(TARGET_VOCAB_FILE))}
        return ServingParts(RawTextTranslator(), artifacts,
                            translator_params(config.decode.beam_width, config.decode.length_penalty), OUTPUT_COLUMNS,
                            load_split(prepared.features_dir, "test").sources)


KIND = Translation()
