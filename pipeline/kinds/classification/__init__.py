"""Text classification: raw text -> one of a fixed set of labels (NSMC sentiment, Reuters topics).

``KIND`` is the ``pipeline.kinds.TaskKind`` the stages call; the modules beside this one hold
its parts: ``features`` (table and token ids), ``training``, ``evaluation``, ``serving``
(the raw-text pyfunc) and ``attention`` (what attention models weighed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.names import CLASSIFICATION

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.checks.report import Finding
    from pipeline.config import PipelineConfig
    from pipeline.corpora.base import CorpusRead
    from pipeline.kinds import ServingParts
    from pipeline.kinds.classification.features import ClassificationFeatures
    from pipeline.registry.significance import Comparison
    from pipeline.results import EvalResult, FitStats, IngestResult, TrainResult
    from pipeline.tracking.lineage import Lineage
    from pipeline.training.fitting import FitHooks


class Classification:
    name = CLASSIFICATION
    comparison_metrics = ("test_accuracy", "test_macro_f1")

    def build_table(self, read: CorpusRead, config: PipelineConfig,
                    data_digest: str) -> tuple[pd.DataFrame, dict]:
        from pipeline.kinds.classification.features import classification_table

        return classification_table(read, config, data_digest)

    def validate(self, config: PipelineConfig, table: pd.DataFrame, report: dict,
                 reference: dict | None) -> tuple[list[Finding], dict, dict | None]:
        from pipeline.kinds.classification.checks import validate_classification

        return validate_classification(config, table, report, reference)

    def feature_findings(self, config: PipelineConfig, prepared: ClassificationFeatures) -> list[Finding]:
        from pipeline.kinds.classification.checks import champion_finding, oov_finding

        return [oov_finding(config, prepared), *champion_finding(config, prepared)]

    def prepare(self, config: PipelineConfig, ingested: IngestResult) -> ClassificationFeatures:
        from pipeline.kinds.classification.features import prepare_classification

        return prepare_classification(config, ingested)

    def features_from_xcom(self, data: dict) -> ClassificationFeatures:
        from pipeline.kinds.classification.features import ClassificationFeatures

        return ClassificationFeatures.from_xcom(data)

    def model_flavor(self, arch: str) -> str:
        from models.registry import family_of

        return "sklearn" if family_of(arch) == "baselines" else "keras"

    def fit(self, config: PipelineConfig, prepared: ClassificationFeatures, arch: str,
            lineage: Lineage, hooks: FitHooks | None = None) -> FitStats:
        from pipeline.kinds.classification.training import fit_baseline, fit_keras

        if self.model_flavor(arch) == "sklearn":
            return fit_baseline(config, prepared, arch, lineage)
        return fit_keras(config, prepared, arch, lineage, hooks)

    def evaluate(self, config: PipelineConfig, prepared: ClassificationFeatures,
                 trained: TrainResult) -> dict[str, float]:
        from pipeline.kinds.classification.evaluation import evaluate_classifier

        return evaluate_classifier(prepared, trained)

    def test_predictions(self, model_uri: str, prepared: ClassificationFeatures) -> list[str]:
        from pipeline.kinds.classification.evaluation import test_predictions

        return test_predictions(model_uri, prepared)

    def compare(self, candidate: list[str], champion: list[str], prepared: ClassificationFeatures, metric: str,
                seed: int) -> Comparison:
        from pipeline.kinds.classification.evaluation import compare_predictions

        return compare_predictions(candidate, champion, prepared, metric, seed)

    def ensemble(self, config: PipelineConfig, prepared: ClassificationFeatures, evaluations: list[EvalResult],
                 parent_run_id: str, lineage: Lineage) -> EvalResult | None:
        from pipeline.kinds.classification.ensemble import build_ensemble

        return build_ensemble(config, prepared, evaluations, parent_run_id, lineage)

    def serving_parts(self, config: PipelineConfig, prepared: ClassificationFeatures, best: EvalResult,
                      model_path: str) -> ServingParts:
        from pathlib import Path

        from pipeline.kinds import ServingParts
        from pipeline.kinds.classification.ensemble import (
            ENSEMBLE_FLAVOR,
            member_models,
        )
        from pipeline.kinds.classification.features import (
            SUBWORD_FILE,
            VOCAB_FILE,
            split_texts,
        )
        from pipeline.kinds.classification.serving import (
            OUTPUT_COLUMNS,
            SERVING_PARAMS,
            RawTextClassifier,
        )
        from pipeline.results import TEXT_SPEC_FILE

        artifacts = {"text_spec": str(prepared.path(TEXT_SPEC_FILE)), "vocab": str(prepared.path(VOCAB_FILE))}
        if Path(prepared.path(SUBWORD_FILE)).is_file():
            artifacts["subwords"] = str(prepared.path(SUBWORD_FILE))
        if best.flavor == ENSEMBLE_FLAVOR:  # model_path is its ensemble.json: every member's model goes in
            members = member_models(model_path, Path(model_path).parent / "members")
            artifacts.update({f"member_{i}_{flavor}_model": path for i, (flavor, path) in enumerate(members)})
        else:
            artifacts[f"{best.flavor}_model"] = model_path
        return ServingParts(RawTextClassifier(), artifacts, SERVING_PARAMS, OUTPUT_COLUMNS,
                            split_texts(prepared.features_dir, "test"))


KIND = Classification()
