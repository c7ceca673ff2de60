"""Airflow-facing entry points: each DAG task calls one of these with small references.

Each takes and returns plain dicts (XCom-serialisable references: paths, digests, run ids,
figures), rebuilds the run's frozen config from the file ``start_run`` wrote, calls one stage and
records what the stage produced on the DAG run's parent MLflow run. No data frames, arrays or
models cross XCom.
"""

from __future__ import annotations

import errno
import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline import names, progress
from pipeline.config import (
    ConfigError,
    PipelineConfig,
    config_from_yaml_text,
    load_config,
    parse_override,
)
from pipeline.errors import BadInput
from pipeline.io import atomic_path
from pipeline.names import DAG_PARAM_FIELDS, OVERRIDES_PARAM, RESUME_PARAM
from pipeline.orchestration import interrupts, ownership
from pipeline.paths import run_dir
from pipeline.results import RunReference
from pipeline.tracking.lineage import Lineage, git_commit

# Bad input does not get better on retry: such a task fails at once, with the error that names
# the file, line or field, instead of waiting out its retries.
BAD_INPUT_ERRORS = (BadInput, FileNotFoundError)

log = logging.getLogger(__name__)


def pipeline_task(name: str | Callable[..., str], note: Callable[[dict], str] | None = None):
    """A DAG task's entry point: one progress line on the CLI's console (``pipeline.progress``),
    and bad input fails the task at once, with the error that names the file, line or field,
    instead of waiting out its retries (bad input does not get better on retry)."""
    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            interrupts.keep_stop_handler()  # the task runner just replaced SIGTERM's handler
            label = name(*args, **kwargs) if callable(name) else name
            with progress.stage(label, note) as holder:
                try:
                    holder["result"] = function(*args, **kwargs)
                except Exception as exc:
                    run = args[0] if args and isinstance(args[0], dict) else {}
                    reason = unfixable_by_retry(exc, run.get("data_dir"))
                    if reason is None:
                        raise  # transient (a lost connection, a killed worker): Airflow's retries may help
                    from airflow.sdk.exceptions import AirflowFailException

                    # One line first in the task's log, and one traceback rather than two: the message
                    # names the file, row or field, and the reader's stack would only bury it.
                    log.error("rnnflow: %s", reason)
                    raise AirflowFailException(reason) from None
            return holder["result"]

        return wrapper

    return decorate


# Storage that no retry two minutes later will fix: a full disk or quota, a read-only or forbidden path.
STORAGE_ERRNOS = {errno.ENOSPC: "no space left", errno.EDQUOT: "disk quota exceeded",
                  errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
                  errno.EPERM: "operation not permitted"}


def unfixable_by_retry(exc: BaseException, data_dir: str | None = None) -> str | None:
    """The one-line reason when ``exc`` is bad input or unusable storage, else None. Writers such
    as Parquet's do not say which file filled the disk: ``data_dir`` is named then."""
    if isinstance(exc, BAD_INPUT_ERRORS):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        where = exc.filename or (f"under the data root {data_dir}" if data_dir else "under the data root")
        return (f"{STORAGE_ERRNOS[exc.errno]}: {where} (free space or fix permissions there, or set data_root "
                "elsewhere, then run again)")
    return None


RANKING_METRICS = {metric for metrics in names.KIND_METRICS.values() for metric in metrics}


def _rows_note(result: dict) -> str:
    return " · ".join(f"{split} {result['rows'][split]:,}" for split in names.SPLITS if split in result["rows"])


def _features_note(result: dict) -> str:
    sizes = {key: result[key] for key in ("vocab_size", "source_vocab_size", "target_vocab_size", "max_len")
             if key in result}
    cached = (" (token cache)" if result.get("token_cache_hit")
              else f" (tokenized in {result['tokenize_seconds']:.0f} s)")
    return " · ".join(f"{key.replace('_', ' ')} {value:,}" for key, value in sizes.items()) + cached


def overrides_from_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """DAG params -> config overrides: each named param sets its field, then ``overrides`` items."""
    params = {key: value for key, value in (params or {}).items() if key != RESUME_PARAM}
    unknown = set(params) - set(DAG_PARAM_FIELDS) - {OVERRIDES_PARAM}
    if unknown:
        known = sorted(DAG_PARAM_FIELDS) + [OVERRIDES_PARAM, RESUME_PARAM]
        raise ConfigError(f"unknown DAG params {sorted(unknown)}; known: {known}")
    overrides = {field: params[name] for name, field in DAG_PARAM_FIELDS.items() if params.get(name) is not None}
    for item in params.get(OVERRIDES_PARAM) or []:
        key, value = parse_override(item)
        overrides[key] = value
    return overrides


def check_trigger_overrides(overrides: dict[str, Any], config: PipelineConfig) -> None:
    """Refuse what a trigger form must not set (``names.TRIGGER_OVERRIDE_PREFIXES``), and corpus
    paths outside the data root and ``RNNFLOW_SOURCE_ROOTS``; the CLI's own runs are trusted."""
    import os

    from pipeline.paths import resolve

    if os.environ.get(names.TRUSTED_OVERRIDES_ENV) == "1":
        return
    refused = sorted(key for key in overrides
                     if not key.startswith(names.TRIGGER_OVERRIDE_PREFIXES)
                     or any(key == field or key.startswith(field + ".") for field in names.TRIGGER_REFUSED_FIELDS))
    if refused:
        raise ConfigError(f"DAG params may not set {refused}: a trigger tunes training ("
                          f"{', '.join(names.TRIGGER_OVERRIDE_PREFIXES)}); paths, tracking, the registered "
                          f"model and checksums are set in the pipeline file")
    roots = [config.data_dir()] + [Path(part) for part in os.environ.get(names.SOURCE_ROOTS_ENV, "").split(os.pathsep)
                                   if part]
    for key in names.TRIGGER_PATH_FIELDS:
        if overrides.get(key):
            path = resolve(str(overrides[key])).resolve()
            if not any(path.is_relative_to(root.resolve()) for root in roots):
                allowed = ", ".join(str(root) for root in roots)
                raise ConfigError(f"DAG param {key}: {overrides[key]!r} is outside the corpus folders a trigger may "
                                  f"read ({allowed}; {names.SOURCE_ROOTS_ENV} adds more)")


def _run_config(ref: RunReference) -> PipelineConfig:
    config = config_from_yaml_text(Path(ref.config_path).read_text(encoding="utf-8"), ref.config_path)
    if config.config_hash() != ref.config_hash:
        raise RuntimeError(f"{ref.config_path} changed since the run started "
                           f"(hash {config.config_hash()} != {ref.config_hash})")
    return config


def _lineage(ref: RunReference, prepared: dict | None = None) -> Lineage:
    prepared = prepared or {}
    return Lineage(ref.dag_id, ref.dag_run_id, ref.config_hash, prepared.get("data_digest", ""),
                   prepared.get("test_digest", ""), ref.git_commit, ref.resumed_in)


def _features(config: PipelineConfig, prepared: dict):
    from pipeline.kinds import kind_of

    return kind_of(config).features_from_xcom(prepared)


@pipeline_task("start run", lambda result: f"config {result['config_hash']}")
def start_run(pipeline: str, params: dict | None, dag_id: str, dag_run_id: str) -> dict:
    """Resolve and freeze the run's config, open the parent MLflow run, log the config once."""
    from pipeline.tracking.store import start_parent_run

    # Under `rnnflow run` this process runs the whole DAG run: the next run can then tell if it died.
    ownership.claim(dag_id, dag_run_id)
    overrides = overrides_from_params(params)
    config = load_config(pipeline, overrides)
    check_trigger_overrides(overrides, config)
    if (params or {}).get(RESUME_PARAM):
        return _resume(config, dag_id, dag_run_id, params[RESUME_PARAM])
    config_path = run_dir(config.data_dir(), dag_id, dag_run_id) / "config.yaml"
    with atomic_path(config_path) as tmp:
        tmp.write_text(config.to_yaml(), encoding="utf-8")
    lineage = Lineage(dag_id, dag_run_id, config.config_hash(), git_commit=git_commit())
    return RunReference(str(config_path), config.config_hash(), dag_id, dag_run_id, lineage.git_commit,
                        str(config.data_dir()), start_parent_run(config, lineage), list(config.train.models),
                        list(range(config.tune.trials))).to_xcom()


def _resume(config: PipelineConfig, dag_id: str, airflow_run_id: str, resumed: str) -> dict:
    """This DAG run continues ``resumed``: it takes on that run's frozen config, run folder (the
    training backups), MLflow runs and registry key, so finished work is reused, training goes on
    from its last finished epoch, and one version is registered."""
    from pipeline.tracking.store import reopen_parent_run

    config_path = run_dir(config.data_dir(), dag_id, resumed) / "config.yaml"
    if not config_path.is_file():
        raise ConfigError(f"resume: DAG run {resumed!r} of {dag_id} has no run folder ({config_path.parent}): "
                          "nothing to resume")
    frozen = config_from_yaml_text(config_path.read_text(encoding="utf-8"), str(config_path))
    lineage = Lineage(dag_id, resumed, frozen.config_hash(), git_commit=git_commit(), resumed_in=airflow_run_id)
    parent_run_id = reopen_parent_run(frozen, lineage)
    progress.line(f"    resuming DAG run {resumed} (MLflow run {parent_run_id})")
    return RunReference(str(config_path), frozen.config_hash(), dag_id, resumed, lineage.git_commit,
                        str(frozen.data_dir()), parent_run_id, list(frozen.train.models),
                        list(range(frozen.tune.trials)), resumed_in=airflow_run_id).to_xcom()


@pipeline_task("ingest + validate", _rows_note)
def ingest(run: dict) -> dict:
    """Ingest, then validate: data that fails a check at its error limit stops the run here,
    after its report is on the parent run."""
    ref = RunReference.from_xcom(run)
    from pipeline.stages.ingest import run_ingest
    from pipeline.stages.validate import run_validation
    from pipeline.tracking.store import (
        champion_data_profile,
        log_ingest,
        log_validation,
    )

    config = _run_config(ref)
    ingested = run_ingest(config)
    log_ingest(config, ref.parent_run_id, ingested)
    out_dir = run_dir(config.data_dir(), ref.dag_id, ref.dag_run_id) / "validation"
    validation = run_validation(config, ingested, out_dir, champion_data_profile(config))
    log_validation(config, ref.parent_run_id, validation.status, validation.warnings, validation.report_dir)
    for warning in validation.warnings:
        progress.line(f"    warning: {warning} (see validation/validation.md on the MLflow run)")
    validation.enforce()
    return ingested.to_xcom()


@pipeline_task("preprocess", _features_note)
def preprocess(run: dict, ingested: dict) -> dict:
    ref = RunReference.from_xcom(run)
    from pipeline.checks.report import enforce, warnings_of, worst_status
    from pipeline.kinds import kind_of
    from pipeline.results import IngestResult
    from pipeline.stages.preprocess import run_preprocess
    from pipeline.tracking.store import log_features, log_validation

    config = _run_config(ref)
    prepared = run_preprocess(config, IngestResult.from_xcom(ingested))
    log_features(config, ref.parent_run_id, prepared)
    findings = kind_of(config).feature_findings(config, prepared)
    log_validation(config, ref.parent_run_id, worst_status(findings), warnings_of(findings))
    for warning in warnings_of(findings):
        progress.line(f"    warning: {warning}")
    enforce(findings)
    return prepared.to_xcom()


def _values_note(values: dict) -> str:
    return ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                     for key, value in values.items())


def _trial_note(result: dict) -> str:
    loss = "no epoch" if result["val_loss"] is None else f"val_loss {result['val_loss']:.4f}"
    values = _values_note({key.partition(".")[2]: value for key, value in result["params"].items()})
    return f"trial {result['trial']} {result['state'].lower()} after {result['epochs']} epoch(s): {loss} ({values})"


@pipeline_task(lambda run, prepared, slot: f"tune trial slot {slot}", _trial_note)
def tune_trial(run: dict, prepared: dict, slot: int) -> dict:
    """One trial of the run's hyperparameter search (``pipeline.stages.tune``); skipped once the search's
    time budget is spent."""
    ref = RunReference.from_xcom(run)
    from pipeline.stages.tune import open_study, run_trial, time_left

    config = _run_config(ref)
    lineage = _lineage(ref, prepared)
    study = open_study(config, lineage, slot)
    if not time_left(config, study, slot):
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"tune.timeout_minutes ({config.tune.timeout_minutes}) spent: "
                                   f"slot {slot} starts no trial")
    return run_trial(config, study, _features(config, prepared), slot, ref.parent_run_id, lineage)


def _search_note(result: dict) -> str:
    if not result:
        return "no search (tune.trials is 0)"
    states = [trial["state"].lower() for trial in result["trials"]]
    counts = ", ".join(f"{states.count(state)} {state}" for state in dict.fromkeys(states))
    if not result["params"]:
        return f"{len(states)} trial(s) ({counts}), none complete: {result['arch']} trains with the config's values"
    return (f"best of {len(states)} ({counts}): trial {result['trial']}, val_loss {result['val_loss']:.4f}; "
            f"{result['arch']} trains with {_values_note(result['params'])}")


@pipeline_task("tune: best trial", _search_note)
def tune_best(run: dict, prepared: dict) -> dict:
    """The search's best values (empty without a search), logged on the parent run."""
    ref = RunReference.from_xcom(run)
    from pipeline.stages.tune import best_trial, log_search, open_study

    config = _run_config(ref)
    if not config.tune.trials:
        return {}
    study = open_study(config, _lineage(ref, prepared))
    outcome = best_trial(config, study)
    log_search(config, ref.parent_run_id, study, outcome)
    return outcome


@pipeline_task(lambda run, prepared, arch, tuned=None: f"train {arch}",
               lambda result: f"{result['epochs_run']} epoch(s), {result['param_count']:,} parameters")
def train(run: dict, prepared: dict, arch: str, tuned: dict | None = None) -> dict:
    """Train ``arch``; the architecture the search tuned trains with its best trial's values."""
    ref = RunReference.from_xcom(run)
    from pipeline.stages.train import run_train

    config = _run_config(ref)
    best_trial = None
    if tuned and tuned.get("arch") == arch and tuned.get("params"):
        config, best_trial = config.with_values(tuned["params"]), tuned["trial"]
    return run_train(config, _features(config, prepared), arch, ref.parent_run_id, _lineage(ref, prepared),
                     best_trial).to_xcom()


@pipeline_task(lambda run, prepared, trained: f"evaluate {trained['arch']}",
               lambda result: _ranking_note(result["metrics"]))
def evaluate(run: dict, prepared: dict, trained: dict) -> dict:
    ref = RunReference.from_xcom(run)
    from pipeline.results import TrainResult
    from pipeline.stages.evaluate import run_evaluate

    config = _run_config(ref)
    return run_evaluate(config, _features(config, prepared), TrainResult.from_xcom(trained)).to_xcom()


def _ranking_note(metrics: dict[str, float]) -> str:
    return " · ".join(f"{key} {value:.4f}" for key, value in metrics.items() if key in RANKING_METRICS)


def _ensemble_note(result: list[dict]) -> str:
    ensembles = [item for item in result if item["flavor"] == names.ENSEMBLE]
    if len(result) < 2:
        return "none: one model in this run (an ensemble combines two or more of train.models)"
    if not ensembles:
        return "none (no validation rows, train.ensemble_max_members below 2, or a kind without ensembles)"
    return _ranking_note(ensembles[0]["metrics"])


@pipeline_task("ensemble", _ensemble_note)
def ensemble(run: dict, prepared: dict, evaluations: Sequence[dict]) -> list[dict]:
    """The run's evaluations, plus an ensemble of its models when the kind builds one."""
    ref = RunReference.from_xcom(run)
    from pipeline.kinds import kind_of
    from pipeline.results import EvalResult

    config = _run_config(ref)
    evaluated = [EvalResult.from_xcom(evaluations[i]) for i in range(len(evaluations))]
    combined = kind_of(config).ensemble(config, _features(config, prepared), evaluated, ref.parent_run_id,
                                        _lineage(ref, prepared))
    return [result.to_xcom() for result in evaluated] + ([combined.to_xcom()] if combined is not None else [])


@pipeline_task("register", lambda result: f"{result['model_name']} v{result['version']} -> @{result['alias']}")
def register(run: dict, prepared: dict, evaluations: Sequence[dict]) -> dict:
    """Register and promote the best model; write the run's comparison and summary to the parent run."""
    ref = RunReference.from_xcom(run)
    from pipeline.kinds import kind_of
    from pipeline.results import EvalResult
    from pipeline.stages.register import run_register
    from pipeline.tracking.store import log_run_summary, validation_tags

    config = _run_config(ref)
    features = _features(config, prepared)
    # Indexing (not iterating) Airflow's lazy XCom sequence avoids a request past its end.
    evaluated = [EvalResult.from_xcom(evaluations[i]) for i in range(len(evaluations))]
    lineage = _lineage(ref, prepared)
    registered = run_register(config, features, evaluated, lineage,
                              extra_tags=validation_tags(config, ref.parent_run_id))
    log_run_summary(config, ref.parent_run_id, lineage, features, evaluated, registered,
                    kind_of(config).comparison_metrics)
    return registered.to_xcom()


def mark_run_failed(context) -> None:
    """Task failure callback: the DAG run's parent MLflow run ends FAILED, naming task and error."""
    from pipeline.tracking.store import mark_parent_failed

    task_instance = context["ti"]
    run = task_instance.xcom_pull(task_ids="start_run")
    if not run:
        return
    ref = RunReference.from_xcom(run)
    from airflow.sdk.exceptions import AirflowFailException

    # pipeline_task raises AirflowFailException for bad input only: the CLI then exits 2, not 1.
    exception = context.get("exception")
    mark_parent_failed(_run_config(ref), ref.parent_run_id, task_instance.task_id, str(exception),
                       bad_input=isinstance(exception, AirflowFailException))


def _batch_config(pipeline: str) -> PipelineConfig:
    from pipeline.tracking.store import configure

    config = load_config(pipeline)
    configure(config)
    return config


def batch_pending(pipeline: str) -> list[dict]:
    """The inbox files the current ``batch.alias`` version has not scored, with that version pinned
    (a promotion mid-batch does not mix two models in one batch). No such version yet: nothing to
    do, the files wait for the first champion."""
    import logging

    from pipeline.serving.batch import NoSuchModel, pending, version_of_alias

    config = _batch_config(pipeline)
    inbox, outbox = config.batch_dirs()
    inbox.mkdir(parents=True, exist_ok=True)
    try:
        version = version_of_alias(config.registry.model_name, config.batch.alias)
    except NoSuchModel as exc:
        logging.getLogger(__name__).warning("nothing scored: %s", exc)
        return []
    return [{**item, "version": version} for item in pending(inbox, outbox, version)]


@pipeline_task(lambda pipeline, item, *_: f"score {Path(item['input']).name}")
def batch_score(pipeline: str, item: dict, dag_id: str, dag_run_id: str) -> dict:
    """Score one inbox file. A file that cannot be scored moves to ``<inbox>/rejected/`` with the
    reason beside it, so it fails one run, not every poll after it."""
    from pipeline.serving.batch import BatchInputError, reject, score_file

    config = _batch_config(pipeline)
    lineage = {names.DAG_ID_TAG: dag_id, names.DAG_RUN_ID_TAG: dag_run_id}
    try:
        scored = score_file(config.registry.model_name, item["version"], Path(item["input"]), Path(item["output"]),
                            config.batch.text_column, context=lineage)
    except BatchInputError as exc:
        raise BatchInputError(f"{exc} (moved to {reject(Path(item['input']), str(exc))})") from exc
    return scored.to_dict()
