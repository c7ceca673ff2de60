"""Layer: task kinds. One object per task kind: everything that differs between classification and
translation (features, training, evaluation, checks, serving parts).

The stages are the same for every kind and call the config's kind for the parts that differ; no
other code branches on the kind. The implementations live inside this package
(``pipeline/kinds/classification``, ``pipeline/kinds/translation``); a new kind (say, sequence
tagging) is a package ``pipeline/kinds/<kind>/`` whose ``KIND`` implements ``TaskKind``, plus its
entries in ``pipeline.names``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pipeline import names

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.checks.report import Finding
    from pipeline.config import PipelineConfig
    from pipeline.corpora.base import CorpusRead
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



@dataclass(frozen=True)
class ServingParts:
    """What registration needs to log a kind's raw-text pyfunc."""

    python_model: Any            # an mlflow.pyfunc.PythonModel
    artifacts: dict[str, str]    # artifact name -> local path
    params: dict[str, Any]       # inference params with their defaults: the signature's params
    output_columns: dict[str, str]  # output column -> what it holds, kept in the model's metadata
    example_inputs: list[str]    # a few raw texts: the logged input example

    def typed_example(self) -> dict[str, Any]:
        """``log_model``/``save_model`` keywords: MLflow takes the input schema from ``predict``'s
        type hint (``list[str]``) and the params schema and defaults from the example's params."""
        return {"input_example": (list(self.example_inputs[:2]), dict(self.params)),
                "metadata": {"rnnflow_output_columns": dict(self.output_columns)}}


class TaskKind(Protocol):
    name: str
    # The test metrics a comparison charts, first one first (the parent run's table and chart).
    comparison_metrics: tuple[str, str]

    def build_table(self, read: CorpusRead, config: PipelineConfig,
                    data_digest: str) -> tuple[pd.DataFrame, dict]:
        """The canonical table (with a ``split`` column) and its report, from a reader's rows."""

    def validate(self, config: PipelineConfig, table: pd.DataFrame, report: dict,
                 reference: dict | None) -> tuple[list[Finding], dict, dict | None]:
        """The data checks on the canonical table (``pipeline.checks.report``): findings, a per-split
        summary for the report, and drift against ``reference`` (the champion's data profile)."""

    def feature_findings(self, config: PipelineConfig, prepared: PreparedFeatures) -> list[Finding]:
        """Checks that need the features (the test split's out-of-vocabulary rate)."""

    def prepare(self, config: PipelineConfig, ingested: IngestResult) -> PreparedFeatures:
        """Tokens -> vocabularies fit on the train split -> id arrays, in a cached features folder."""

    def features_from_xcom(self, data: dict) -> PreparedFeatures:
        """The ``prepare`` result back from its XCom dict."""

    def model_flavor(self, arch: str) -> str:
        """How an architecture's model is saved and loaded: ``keras`` or ``sklearn``."""

    def fit(self, config: PipelineConfig, prepared: PreparedFeatures, arch: str,
            lineage: Lineage, hooks: FitHooks | None = None) -> FitStats:
        """Train ``arch`` inside the active MLflow run and log the model there (a search trial's
        ``hooks``: its callbacks, its own folder, no model logged)."""

    def evaluate(self, config: PipelineConfig, prepared: PreparedFeatures,
                 trained: TrainResult) -> dict[str, float]:
        """Score the trained model on the test split; log metrics and plots into the active run."""

    def test_predictions(self, model_uri: str, prepared: PreparedFeatures) -> list[str]:
        """A registered raw-text model's predictions for this run's test split, through its pyfunc
        (label names; translations of each distinct source), in the order ``evaluate`` records them."""

    def compare(self, candidate: list[str], champion: list[str], prepared: PreparedFeatures, metric: str,
                seed: int) -> Comparison:
        """The paired significance test of candidate against champion on the same test rows."""

    def ensemble(self, config: PipelineConfig, prepared: PreparedFeatures, evaluations: list[EvalResult],
                 parent_run_id: str, lineage: Lineage) -> EvalResult | None:
        """One more competitor combining the run's evaluated models (chosen on the validation split,
        scored on the test split, logged as its own child run), or None where the kind has none."""

    def serving_parts(self, config: PipelineConfig, prepared: PreparedFeatures, best: EvalResult,
                      model_path: str) -> ServingParts:
        """The raw-text pyfunc that wraps the best model with its text processing."""


def kind_of(config: PipelineConfig) -> TaskKind:
    return kind_named(config.kind)


def kind_named(name: str) -> TaskKind:
    """The ``KIND`` of package ``pipeline.<name>``, for every kind ``pipeline.names`` lists."""
    if name not in names.KINDS:
        raise ValueError(f"task kind {name!r}: expected one of {list(names.KINDS)}")
    return importlib.import_module(f"pipeline.kinds.{name}").KIND
