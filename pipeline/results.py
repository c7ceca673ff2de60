"""What the stages hand each other through XCom: references (paths, URIs, digests, run ids) and
small figures, never data. Each type round-trips through ``to_xcom()`` / ``from_xcom()``.

The files a stage writes are named here too, so the stage that writes one and the stages that
read it agree on one name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

# Ingest: the canonical table and its report.
TABLE_FILE = "table.parquet"
REPORT_FILE = "report.json"
# Preprocess: a features folder holds these (each kind adds its vocabularies).
FEATURES_FILE = "features.npz"
TEXT_SPEC_FILE = "text_spec.json"   # everything serving needs to turn raw text into the same ids
SUMMARY_FILE = "summary.json"       # the folder's PreparedFeatures, so a cache hit rebuilds it

_Self = TypeVar("_Self", bound="XcomResult")


class XcomResult:
    """A frozen dataclass that travels through XCom as a plain dict."""

    def to_xcom(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]  # every subclass is a dataclass

    @classmethod
    def from_xcom(cls: type[_Self], data: dict[str, Any]) -> _Self:
        fields = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{key: value for key, value in data.items() if key in fields})


@dataclass(frozen=True)
class RunReference(XcomResult):
    """The DAG run every task after ``start_run`` works on: its frozen config, MLflow parent run and
    lineage. A resumed run keeps the interrupted run's ``dag_run_id`` (its MLflow runs, run folder
    and registry key) and names the Airflow run that resumed it in ``resumed_in``."""

    config_path: str
    config_hash: str
    dag_id: str
    dag_run_id: str
    git_commit: str
    data_dir: str
    parent_run_id: str
    models: list[str]
    tune_slots: list[int]
    resumed_in: str = ""


@dataclass(frozen=True)
class IngestResult(XcomResult):
    table_path: str
    report_path: str
    data_digest: str    # the input files' content
    table_digest: str   # the canonical table's identity: input digest + ingestion settings + code version
    test_digest: str    # the test split's content
    rows: dict[str, int]


@dataclass(frozen=True)
class PreparedFeatures(XcomResult):
    """A features folder and its sizes; each task kind adds the sizes its models are built from."""

    features_dir: str
    rows: dict[str, int]
    token_cache_hit: bool
    tokenize_seconds: float
    # Carried from ingestion so that later stages can record lineage.
    data_digest: str
    test_digest: str

    def path(self, name: str) -> Path:
        return Path(self.features_dir) / name

    def sizes(self) -> dict[str, int]:
        """The sizes the models are built from: logged as params and metrics."""
        raise NotImplementedError


@dataclass(frozen=True)
class TrainResult(XcomResult):
    run_id: str
    arch: str
    flavor: str  # "keras" or "sklearn": how evaluation and serving load the model
    model_uri: str
    train_seconds: float
    epochs_run: int
    param_count: int


@dataclass(frozen=True)
class FitStats:
    """What fitting one model reports, whatever the kind."""

    train_seconds: float
    epochs_run: int
    param_count: int


@dataclass(frozen=True)
class EvalResult(XcomResult):
    run_id: str
    arch: str
    flavor: str
    model_uri: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class RegisterResult(XcomResult):
    model_name: str
    version: str
    alias: str
    reason: str
    arch: str
    run_id: str
    metrics: dict[str, float]


def logged_test_scores(metrics: dict[str, float]) -> dict[str, float]:
    """A run's test metrics (``test_<name>``) by name: what an evaluation logged, read back on a rerun."""
    from pipeline.names import TEST_METRIC_PREFIX

    return {name.removeprefix(TEST_METRIC_PREFIX): value for name, value in metrics.items()
            if name.startswith(TEST_METRIC_PREFIX)}


def predictions_artifact(test_digest: str) -> str:
    """Where a training run keeps its model's predictions for one test split: written by
    evaluation, read (or filled in for a champion) by the promotion gate."""
    return f"predictions/test-{test_digest}.json"
