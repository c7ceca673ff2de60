"""Everything the CLI does inside Airflow: the metadata DB, the DAG a pipeline runs as, one
``dag.test()`` run with its stop handling and resume, and the DAG runs a dead process left behind.

``dag.test()`` runs every task in the CLI's own process, so these functions also write Airflow's
metadata DB directly (marking runs failed); they are kept here, in one place.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline import progress
from pipeline.cli.env import configure_environment
from pipeline.io import exclusive
from pipeline.names import (
    BAD_INPUT_TAG,
    ERROR_TAG,
    FAILED_TASK_TAG,
    KINDS,
    PIPELINES_ENV,
    RESUME_PARAM,
    TRUSTED_OVERRIDES_ENV,
)
from pipeline.orchestration import interrupts, ownership
from pipeline.paths import airflow_home

log = logging.getLogger("rnnflow")


def ensure_airflow_db() -> None:
    """Create or upgrade the Airflow metadata DB, once per installed Airflow version."""
    import importlib.metadata

    marker = airflow_home() / f".rnnflow-db-migrated-{importlib.metadata.version('apache-airflow-core')}"
    # The default store is a file: if it was deleted, the marker alone must not skip the migration.
    external_db = bool(os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"))

    def migrated() -> bool:
        return marker.exists() and (external_db or (airflow_home() / "airflow.db").is_file())

    if migrated():
        return
    # Two first runs at once would both migrate the same database: one at a time, then look again.
    with exclusive(airflow_home() / ".rnnflow-db-migrate.lock"):
        if migrated():
            return
        log.info("initialising the Airflow metadata DB in %s", airflow_home())
        airflow = Path(sys.executable).with_name("airflow")
        subprocess.run([str(airflow), "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
        marker.touch()


def load_dag(pipeline: str):
    """The DAG that runs ``pipeline`` (a name or a YAML file), built by the same factory the
    scheduler's DAG file uses."""
    from pipeline.config import load_config
    from pipeline.orchestration.workflow import training_dag

    if Path(pipeline).suffix in (".yaml", ".yml"):
        pipeline = str(Path(pipeline).expanduser().resolve())
    return training_dag(load_config(pipeline), source=pipeline)


def make_discoverable(pipeline: str) -> None:
    """A pipeline file outside the pipelines folders joins ``RNNFLOW_PIPELINES`` for this process:
    dag.test() runs the DAG as the DAG processor stores it, from the DAG file that reads that list."""
    from pipeline.config import discover_pipelines

    path = Path(pipeline).expanduser().resolve()
    if path.suffix not in (".yaml", ".yml"):
        return
    known = discover_pipelines()[0]
    if path.stem in known and known[path.stem].resolve() == path:
        return
    current = os.environ.get(PIPELINES_ENV, "")
    os.environ[PIPELINES_ENV] = os.pathsep.join(filter(None, [current, str(path)]))


def check_corpus_reachable(pipeline: str, overrides: list[str]) -> None:
    """Fail before Airflow starts if the corpus can be neither found nor downloaded."""
    from pipeline.config import load_config
    from pipeline.corpora import corpus_reader
    from pipeline.stages.ingest import resolve_source_files

    config = load_config(pipeline, overrides)
    resolve_source_files(config, corpus_reader(config.corpus.name))


def run_pipeline(pipeline: str, source: str | None, overrides: list[str], resume: bool = False) -> dict:
    """Run the pipeline's DAG once with dag.test() and return the run's summary figures; with
    ``resume``, continue its last interrupted DAG run instead of starting afresh."""
    from pipeline.config import ConfigError

    configure_environment()
    # This process runs the tasks for the machine's own user: any override, any path.
    os.environ[TRUSTED_OVERRIDES_ENV] = "1"
    if resume and (source or overrides):
        raise ConfigError("run --resume continues the interrupted run with its own frozen config: "
                          "drop --source and --set")
    if source:
        source = str(Path(source).expanduser().resolve())
        overrides = [f"corpus.source={source}", *overrides]
    if not resume:
        check_corpus_reachable(pipeline, overrides)
    ensure_airflow_db()
    make_discoverable(pipeline)
    dag = load_dag(pipeline)
    progress.line(f"rnnflow: {dag.dag_id} ({dag_kind(dag)}), one run with dag.test()")
    interrupts.on_stop(stop_handler(dag.dag_id))
    end_orphaned_runs(dag.dag_id)
    conf = resume_conf(dag.dag_id) if resume else {"overrides": overrides}
    started = time.perf_counter()
    register_dags_once(dag.dag_id)
    dag_run = dag.test(run_conf=conf)
    wall_seconds = time.perf_counter() - started
    identity = conf.get(RESUME_PARAM) or dag_run.run_id
    state = str(getattr(dag_run.state, "value", dag_run.state))
    if state != "success":
        reason, bad_input = failure_reason(dag.dag_id, identity)
        raise RunFailed(f"DAG run {dag_run.run_id} of {dag.dag_id} ended {state}: {reason}", bad_input)
    summary = read_run_summary(dag.dag_id, identity)
    summary["wall_seconds"] = round(wall_seconds, 1)
    return summary


def register_dags_once(dag_id: str) -> None:
    """Write the DAG folder's DAGs and assets to the metadata DB before the first run of ``dag_id``.

    ``dag.test()`` does the same write, unguarded: two first runs at once (two pipelines, or one
    pipeline twice, on a fresh Airflow DB) both insert the same rows and one fails on a unique
    constraint. Done here under a lock, the write ``dag.test()`` repeats changes nothing."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.models.dag_version import DagVersion
    from airflow.utils.session import create_session

    if DagVersion.get_version(dag_id):
        return
    with exclusive(airflow_home() / ".rnnflow-dag-sync.lock"):
        if DagVersion.get_version(dag_id):
            return
        manager = DagBundlesManager()
        with create_session() as session:
            manager.sync_bundles_to_db(session=session)
        for bundle in manager.get_all_dag_bundles():
            if not bundle.is_initialized:
                bundle.initialize()
            sync_bag_to_db(BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name),
                           bundle.name, bundle.version)


def mlflow_identity(run) -> str:
    """The DAG run id its MLflow runs, run folder and version carry: a resuming run's is the one it resumes."""
    return (run.conf or {}).get(RESUME_PARAM) or run.run_id


def resume_conf(dag_id: str) -> dict:
    """The run conf that continues the DAG's latest DAG run, which must have ended without success."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from pipeline.config import ConfigError

    with create_session() as session:
        last = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id)
                               .order_by(DagRun.start_date.desc().nulls_last()).limit(1)).first()
        if last is None:
            raise ConfigError(f"run --resume: {dag_id} has no DAG run to resume")
        state = str(getattr(last.state, "value", last.state))
        if state != "failed":
            raise ConfigError(f"run --resume: the last DAG run of {dag_id}, {last.run_id}, is {state}: "
                              "nothing to resume")
        resumed = mlflow_identity(last)
        progress.line(f"rnnflow: resuming DAG run {resumed}")
        return {**(last.conf or {}), RESUME_PARAM: resumed}


def stop_handler(dag_id: str):
    """On Ctrl-C or SIGTERM: this process's DAG run and its task instances end failed, its MLflow
    runs KILLED (no run left RUNNING or falsely FINISHED), and the process exits 128 + signal."""
    def stop(signum, frame):
        name = signal.Signals(signum).name
        progress.line(f"rnnflow: {name}: stopping {dag_id}")
        try:
            # Ours: claimed by this process, or (stopped before its first task) claimed by nobody yet.
            ended = end_dag_runs(dag_id, lambda run: ownership.claimed_here(dag_id, run.run_id)
                                 or ownership.holder_died(dag_id, run.run_id) is None, f"stopped by {name}")
            for run_id, killed in ended.items():
                progress.line(f"rnnflow: DAG run {run_id} marked failed, {len(killed)} MLflow run(s) KILLED")
        except Exception as exc:  # stopping must not hang on a bookkeeping error
            progress.line(f"rnnflow: could not mark the run stopped: {exc}")
        finally:
            # os._exit skips every cleanup, a tokenizer pool's shutdown included: its workers (each
            # with a JVM, holding nothing to save) go now, not when each next looks for its parent.
            for child in multiprocessing.active_children():
                child.kill()
            logging.shutdown()
            os._exit(128 + signum)

    return stop


# A DAG run nobody claimed this long after it started never will: its process died before its first task.
UNCLAIMED_GRACE_SECONDS = 900


def end_orphaned_runs(dag_id: str) -> dict[str, list[str]]:
    """DAG runs an earlier ``rnnflow run`` left running when its process died without a chance to
    say so (kill -9, a crash): they end failed and their MLflow runs KILLED. DAG runs another live
    ``rnnflow run`` holds, and runs a scheduler started, are left alone."""
    from airflow.utils import timezone
    from airflow.utils.types import DagRunTriggeredByType

    def orphaned(run) -> bool:
        if run.triggered_by != DagRunTriggeredByType.TEST:  # a scheduler's run: its own business
            return False
        died = ownership.holder_died(dag_id, run.run_id)
        if died is None and run.start_date is not None:
            return (timezone.utcnow() - run.start_date).total_seconds() > UNCLAIMED_GRACE_SECONDS
        return bool(died)

    ended = end_dag_runs(dag_id, orphaned, "its rnnflow process died (found and marked by the next run)")
    for run_id, killed in ended.items():
        progress.line(f"rnnflow: DAG run {run_id} was left running by a process that died: marked failed, "
                      f"{len(killed)} MLflow run(s) KILLED")
    return ended


def end_dag_runs(dag_id: str, chosen, reason: str) -> dict[str, list[str]]:
    """The DAG's running DAG runs that ``chosen(run)`` picks, with their unfinished task instances,
    end failed, and their MLflow runs KILLED with ``reason``. DAG run id -> the MLflow run ids."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    from pipeline.tracking.lineage import dag_run_key
    from pipeline.tracking.store import mark_runs_killed

    finished = (TaskInstanceState.SUCCESS, TaskInstanceState.FAILED, TaskInstanceState.SKIPPED,
                TaskInstanceState.UPSTREAM_FAILED, TaskInstanceState.REMOVED)
    with create_session() as session:
        runs = [run for run in session.scalars(select(DagRun).where(
            DagRun.dag_id == dag_id, DagRun.state.in_([DagRunState.RUNNING, DagRunState.QUEUED]))) if chosen(run)]
        for run in runs:
            for ti in session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id,
                                                                 TaskInstance.run_id == run.run_id)):
                if ti.state not in finished:
                    ti.state = TaskInstanceState.FAILED
            run.state = DagRunState.FAILED
        identities = {run.run_id: mlflow_identity(run) for run in runs}
    return {run_id: mark_runs_killed(dag_run_key(dag_id, identity), reason) for run_id, identity in identities.items()}


class RunFailed(RuntimeError):
    """A DAG run ended in a state other than success; the message carries the failing task's reason.
    ``bad_input``: the reason is the user's data or config (exit 2), not a fault of the run (exit 1)."""

    def __init__(self, message: str, bad_input: bool = False) -> None:
        super().__init__(message)
        self.bad_input = bad_input


def dag_kind(dag) -> str:
    return next((tag for tag in dag.tags if tag in KINDS), "?")


def failure_reason(dag_id: str, dag_run_id: str) -> tuple[str, bool]:
    """The failed task and its one-line error, as the failure callback recorded them on the parent
    run, and whether the cause was bad input (the data or config) rather than a fault of the run."""
    from pipeline.tracking.lineage import dag_run_key
    from pipeline.tracking.store import find_parent_tags

    try:
        tags = find_parent_tags(dag_run_key(dag_id, dag_run_id))
    except LookupError:
        return "no MLflow run was started (see the log)", False
    task, error = tags.get(FAILED_TASK_TAG), tags.get(ERROR_TAG)
    if not task:
        return "see the log", False
    return f"task {task} failed: {error}", tags.get(BAD_INPUT_TAG) == "true"


def read_run_summary(dag_id: str, dag_run_id: str) -> dict:
    from pipeline.tracking.lineage import dag_run_key
    from pipeline.tracking.store import find_run_summary

    return find_run_summary(dag_run_key(dag_id, dag_run_id))
