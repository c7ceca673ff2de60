"""The thin place where rnnflow talks to MLflow tracking: URI, experiment, idempotent runs.

A DAG run owns one parent MLflow run and one child run per trained architecture, found again by
tags when a task is retried, so reruns reuse runs instead of piling up duplicates.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from pipeline.config import PipelineConfig
from pipeline.lineage import Lineage
from pipeline.paths import local_mlflow_dir, local_tracking_uri

log = logging.getLogger(__name__)

KIND_TAG = "rnnflow.kind"
ARCH_TAG = "rnnflow.arch"
RUN_KEY_TAG = "rnnflow.run_key"


def tracking_uri(config: PipelineConfig | None = None) -> str:
    """Config, then MLFLOW_TRACKING_URI, then the project's local SQLite store."""
    if config is not None and config.tracking.tracking_uri:
        return config.tracking.tracking_uri
    return os.environ.get("MLFLOW_TRACKING_URI") or local_tracking_uri()


def configure(config: PipelineConfig | None = None) -> MlflowClient:
    uri = tracking_uri(config)
    if uri == local_tracking_uri():
        local_mlflow_dir().mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(uri, uri)


def experiment_id(client: MlflowClient, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name, artifact_location=local_artifact_location(client.tracking_uri))
    except mlflow.exceptions.MlflowException:
        # Created concurrently by a sibling task.
        return client.get_experiment_by_name(name).experiment_id


def local_artifact_location(uri: str) -> str | None:
    """Artifacts beside a SQLite store's file; MLflow would otherwise put them in ./mlruns under
    whatever the current directory is. Servers (http://...) decide their artifact location."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    return (Path(uri[len(prefix):]).parent / "artifacts").as_uri()


def _find_run(client: MlflowClient, experiment: str, run_key: str) -> Run | None:
    runs = client.search_runs([experiment], filter_string=f"tags.`{RUN_KEY_TAG}` = '{run_key}'",
                              order_by=["attributes.start_time DESC"], max_results=10)
    return runs[0] if runs else None


def parent_run(client: MlflowClient, config: PipelineConfig, lineage: Lineage) -> tuple[str, bool]:
    """(run id, created) of the DAG run's parent MLflow run, creating it on first call."""
    experiment = experiment_id(client, config.tracking.experiment)
    run_key = lineage.run_key
    existing = _find_run(client, experiment, run_key)
    if existing is not None:
        return existing.info.run_id, False
    run = client.create_run(experiment, run_name=f"{lineage.dag_id} {lineage.dag_run_id}",
                            tags={**lineage.tags(), KIND_TAG: "parent", RUN_KEY_TAG: run_key})
    return run.info.run_id, True


def child_run(client: MlflowClient, config: PipelineConfig, parent_run_id: str, arch: str,
              lineage: Lineage) -> tuple[str, bool]:
    """(run id, already finished) of an architecture's child run under ``parent_run_id``.

    A finished child run is reused as is (the task was cleared after success); a failed or
    interrupted one is marked FAILED and replaced by a fresh run.
    """
    experiment = experiment_id(client, config.tracking.experiment)
    run_key = f"{lineage.run_key}/{arch}"
    existing = _find_run(client, experiment, run_key)
    if existing is not None and existing.info.status == "FINISHED":
        return existing.info.run_id, True
    if existing is not None and existing.info.status == "RUNNING":
        client.set_terminated(existing.info.run_id, status="FAILED")
    run = client.create_run(experiment, run_name=arch, tags={
        **lineage.tags(), KIND_TAG: "child", ARCH_TAG: arch, RUN_KEY_TAG: run_key,
        "mlflow.parentRunId": parent_run_id})
    return run.info.run_id, False


def log_params_once(client: MlflowClient, run_id: str, params: dict[str, Any]) -> None:
    """Log params that are not on the run yet (MLflow refuses to change a logged param)."""
    logged = client.get_run(run_id).data.params
    fresh = {k: str(v)[:6000] for k, v in params.items() if k not in logged}
    if fresh:
        from mlflow.entities import Param

        items = list(fresh.items())
        for start in range(0, len(items), 100):
            client.log_batch(run_id, params=[Param(k, v) for k, v in items[start:start + 100]])
