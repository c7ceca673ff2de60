"""Airflow-facing entry points: each DAG task calls one of these with small references.

They take and return plain dicts (XCom-serialisable references: paths, digests, run ids,
figures), rebuild the run's frozen config from the file written by ``start_run`` and call the
stage's one public function. No data frames, arrays or models cross XCom.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Sequence

from pipeline.config import ConfigError, PipelineConfig, config_from_yaml_text, load_config, parse_override
from pipeline.corpora.errors import ChecksumMismatchError, CorpusFormatError
from pipeline.io import atomic_path
from pipeline.lineage import Lineage, git_commit
from pipeline.paths import run_dir

log = logging.getLogger(__name__)

# DAG params that map onto config fields; anything else goes through the `overrides` list.
PARAM_FIELDS = {"source": "corpus.source", "tokenizer": "text.tokenizer", "epochs": "train.epochs",
                "models": "train.models", "corpus": "corpus.name", "subset": "corpus.subset"}


# Bad input does not get better on retry: such a task fails at once, with the error that names
# the file, line or field, instead of waiting out its retries.
BAD_INPUT_ERRORS = (ConfigError, CorpusFormatError, ChecksumMismatchError, FileNotFoundError)


def no_retry_on_bad_input(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except BAD_INPUT_ERRORS as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc

    return wrapper


def overrides_from_params(params: dict[str, Any] | None) -> dict[str, Any]:
    params = params or {}
    unknown = set(params) - set(PARAM_FIELDS) - {"overrides"}
    if unknown:
        raise ValueError(f"unknown DAG params {sorted(unknown)}; known: {sorted(PARAM_FIELDS) + ['overrides']}")
    overrides = {field: params[name] for name, field in PARAM_FIELDS.items() if params.get(name) is not None}
    for item in params.get("overrides") or []:
        key, value = parse_override(item)
        overrides[key] = value
    return overrides


def _load_run_config(run: dict) -> PipelineConfig:
    config = config_from_yaml_text(Path(run["config_path"]).read_text(encoding="utf-8"), run["config_path"])
    if config.config_hash() != run["config_hash"]:
        raise RuntimeError(f"{run['config_path']} changed since the run started "
                           f"(hash {config.config_hash()} != {run['config_hash']})")
    return config


def _lineage(run: dict, prepared: dict | None = None) -> Lineage:
    prepared = prepared or {}
    return Lineage(run["dag_id"], run["dag_run_id"], run["config_hash"], prepared.get("data_digest", ""),
                   prepared.get("test_digest", ""), run["git_commit"])


@no_retry_on_bad_input
def start_run(pipeline_name: str, params: dict | None, dag_id: str, dag_run_id: str) -> dict:
    """Resolve and freeze the run's config, open the parent MLflow run, log the config once."""
    import mlflow

    from pipeline.tracking import configure, log_params_once, parent_run

    config = load_config(pipeline_name, overrides_from_params(params))
    config_path = run_dir(config.data_dir(), dag_id, dag_run_id) / "config.yaml"
    with atomic_path(config_path) as tmp:
        tmp.write_text(config.to_yaml(), encoding="utf-8")
    lineage = Lineage(dag_id, dag_run_id, config.config_hash(), git_commit=git_commit())
    client = configure(config)
    parent_run_id, created = parent_run(client, config, lineage)
    log_params_once(client, parent_run_id, config.flat_params())
    if created:
        with mlflow.start_run(run_id=parent_run_id):
            mlflow.log_text(config.to_yaml(), "config/resolved_config.yaml")
    return {"config_path": str(config_path), "config_hash": config.config_hash(), "dag_id": dag_id,
            "dag_run_id": dag_run_id, "git_commit": lineage.git_commit, "parent_run_id": parent_run_id,
            "models": list(config.train.models)}


@no_retry_on_bad_input
def ingest(run: dict) -> dict:
    import mlflow

    from pipeline.ingest import run_ingest
    from pipeline.tracking import configure

    config = _load_run_config(run)
    result = run_ingest(config)
    configure(config)
    client = mlflow.MlflowClient()
    client.set_tag(run["parent_run_id"], "rnnflow.data_digest", result.data_digest)
    client.log_artifact(run["parent_run_id"], result.report_path, "data")
    for split, rows in result.rows.items():
        client.log_metric(run["parent_run_id"], f"rows_{split}", rows)
    return result.to_xcom()


@no_retry_on_bad_input
def preprocess(run: dict, ingested: dict) -> dict:
    import mlflow

    from pipeline.preprocess import SUMMARY_FILE, TEXT_SPEC_FILE, run_preprocess
    from pipeline.tracking import configure

    config = _load_run_config(run)
    if config.task == "translation":
        from pipeline.translation import run_preprocess_pairs

        result = run_preprocess_pairs(config, ingested["table_path"], ingested["table_digest"])
    else:
        result = run_preprocess(config, ingested["table_path"], ingested["report_path"], ingested["table_digest"])
    configure(config)
    client = mlflow.MlflowClient()
    for name in (TEXT_SPEC_FILE, SUMMARY_FILE):
        client.log_artifact(run["parent_run_id"], str(Path(result.features_dir) / name), "features")
    for name, value in {**result.params(), "tokenize_seconds": result.tokenize_seconds}.items():
        client.log_metric(run["parent_run_id"], name, value)
    return {**result.to_xcom(), "data_digest": ingested["data_digest"], "test_digest": ingested["test_digest"]}


@no_retry_on_bad_input
def train(run: dict, prepared: dict, arch: str) -> dict:
    from pipeline.train import run_train

    config = _load_run_config(run)
    result = run_train(config, _prepared(prepared), arch, run["parent_run_id"], _lineage(run, prepared))
    return result.to_xcom()


@no_retry_on_bad_input
def evaluate(run: dict, prepared: dict, trained: dict) -> dict:
    from pipeline.evaluate import run_evaluate
    from pipeline.train import TrainResult

    config = _load_run_config(run)
    return run_evaluate(config, _prepared(prepared), TrainResult(**trained)).to_xcom()


@no_retry_on_bad_input
def register(run: dict, prepared: dict, evaluations: Sequence[dict]) -> dict:
    """Register and promote the best model; write the run summary to the parent run."""
    import mlflow

    from pipeline.evaluate import EvalResult
    from pipeline.registry import run_register
    from pipeline.tracking import configure

    config = _load_run_config(run)
    # Indexing (not iterating) Airflow's lazy XCom sequence avoids a request past its end.
    evaluated = [EvalResult(**evaluations[i]) for i in range(len(evaluations))]
    result = run_register(config, _prepared(prepared), evaluated, _lineage(run, prepared))
    configure(config)
    client = mlflow.MlflowClient()
    summary = run_summary(client, run, prepared, evaluated, result.to_xcom())
    from pipeline.compare import comparison_figure, comparison_frame

    comparison = comparison_frame(summary["models"], config.task)
    with mlflow.start_run(run_id=run["parent_run_id"]):
        mlflow.log_table(comparison, "comparison/table.json")
        mlflow.log_text(comparison.to_csv(index=False), "comparison/table.csv")
        mlflow.log_figure(comparison_figure(comparison, f"{run['dag_id']}: models on the same test split"),
                          "comparison/chart.png")
        mlflow.log_dict(summary, "summary.json")
        mlflow.set_tags({"rnnflow.registered_version": result.version, "rnnflow.alias": result.alias,
                         "rnnflow.best_arch": result.arch})
    return result.to_xcom()


def mark_run_failed(context) -> None:
    """Task failure callback: the DAG run's parent MLflow run ends FAILED, naming task and error."""
    from pipeline.tracking import configure

    task_instance = context["ti"]
    run = task_instance.xcom_pull(task_ids="start_run")
    if not run:
        return
    client = configure(_load_run_config(run))
    client.set_tag(run["parent_run_id"], "rnnflow.failed_task", task_instance.task_id)
    client.set_tag(run["parent_run_id"], "rnnflow.error", str(context.get("exception"))[:4000])
    client.set_terminated(run["parent_run_id"], status="FAILED")


def run_summary(client, run: dict, prepared: dict, evaluated: list, registered: dict) -> dict:
    models = {}
    for item in evaluated:
        metrics = client.get_run(item.run_id).data.metrics
        models[item.arch] = {**{f"test_{k}": round(v, 4) for k, v in item.metrics.items()},
                             "train_seconds": round(metrics.get("train_seconds", float("nan")), 1),
                             "epochs_run": int(metrics.get("epochs_run", 0)),
                             "param_count": int(metrics.get("param_count", 0)), "run_id": item.run_id}
    sizes = _prepared(prepared).params()
    return {"dag_id": run["dag_id"], "dag_run_id": run["dag_run_id"], "rows": prepared["rows"], **sizes,
            "tokenize_seconds": prepared["tokenize_seconds"], "models": models,
            "registered": {key: registered[key] for key in ("model_name", "version", "alias", "reason", "arch")},
            "parent_run_id": run["parent_run_id"]}


def _prepared(prepared: dict):
    """The preprocess stage's result back from XCom: classification or translation features."""
    from pipeline.preprocess import PreprocessResult
    from pipeline.translation import TranslationPrepared

    kind = TranslationPrepared if "source_vocab_size" in prepared else PreprocessResult
    return kind(**{k: v for k, v in prepared.items() if k not in ("data_digest", "test_digest")})
