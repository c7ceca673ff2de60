"""``rnnflow``: run a pipeline end to end on the embedded default, or query the champion.

    rnnflow run nsmc [--source PATH] [--set key=value ...] [--json | --verbose]
    rnnflow run --config path/to/pipeline.yaml [--set key=value ...]
    rnnflow init --source data.csv [--output pipeline.yaml]
    rnnflow demo
    rnnflow predict nsmc-sentiment TEXT [TEXT ...]
    rnnflow predict nsmc-sentiment --input reviews.csv --output predictions.parquet
    rnnflow promote nsmc-sentiment 7 --reason "..."   /   rnnflow rollback nsmc-sentiment
    rnnflow lineage nsmc-sentiment@champion   /   rnnflow lineage --dag-run nsmc_sentiment/RUN_ID
    rnnflow serve nsmc-sentiment@champion [--port 5001]
    rnnflow env
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from pipeline import interrupts, ownership, progress
from pipeline.names import (
    BAD_INPUT_TAG,
    CHAMPION,
    ERROR_TAG,
    FAILED_TASK_TAG,
    KINDS,
    PIPELINES_ENV,
    RESUME_PARAM,
    TEST_METRIC_PREFIX,
    TRUSTED_OVERRIDES_ENV,
)
from pipeline.paths import PROJECT_ROOT, airflow_home, local_tracking_uri, state_root

log = logging.getLogger("rnnflow")
# The demo's model when NSMC cannot be downloaded: kept apart from the real nsmc-sentiment.
SAMPLE_MODEL_NAME = "nsmc-sentiment-sample"
SAMPLE_SENTENCES = ["이 영화 정말 재밌어요 배우들 연기도 최고", "완전 지루하고 돈 아까운 영화였다",
                    "스토리가 감동적이라 눈물이 났어요", "최악의 결말 다시는 안 본다"]


def configure_environment() -> dict[str, str]:
    """Point Airflow and MLflow at the project's local stores unless the environment says otherwise."""
    home = airflow_home()
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "MLFLOW_TRACKING_URI": local_tracking_uri(),
        # MLflow's model-size and dependency probes are noise for a local run.
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in defaults}


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
    with ownership.exclusive(airflow_home() / ".rnnflow-db-migrate.lock"):
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
    from pipeline.workflow import training_dag

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
    with ownership.exclusive(airflow_home() / ".rnnflow-dag-sync.lock"):
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

    from pipeline.lineage import dag_run_key
    from pipeline.tracking import mark_runs_killed

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
    from pipeline.lineage import dag_run_key
    from pipeline.tracking import find_parent_tags

    try:
        tags = find_parent_tags(dag_run_key(dag_id, dag_run_id))
    except LookupError:
        return "no MLflow run was started (see the log)", False
    task, error = tags.get(FAILED_TASK_TAG), tags.get(ERROR_TAG)
    if not task:
        return "see the log", False
    return f"task {task} failed: {error}", tags.get(BAD_INPUT_TAG) == "true"


@contextlib.contextmanager
def console_and_log(log_path: Path, verbose: bool, show_progress: bool):
    """Progress lines go to the terminal; Airflow's, TensorFlow's and MLflow's logs (file
    descriptors 1 and 2, so C++ logs too) go to ``log_path`` unless ``verbose``."""
    console = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8")
    progress.attach(console if show_progress else None)
    if verbose:
        try:
            yield console
        finally:
            progress.attach(None)
            console.close()
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    try:
        yield console
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log_fd):
            os.close(fd)
        progress.attach(None)
        console.close()


def run_log_path(pipeline: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return airflow_home() / "logs" / "rnnflow-run" / f"{Path(pipeline).stem}-{stamp}.log"


def summary_table(summary: dict) -> str:
    """The run's models and their test figures as a fixed-width table, then the registry decision."""
    models = summary.get("models", {})
    metrics = sorted({key for figures in models.values() for key in figures
                      if key.startswith(TEST_METRIC_PREFIX) and "per_second" not in key})
    columns = ["model", *[key.removeprefix(TEST_METRIC_PREFIX) for key in metrics], "train s", "epochs", "params"]
    rows = [[arch, *[f"{figures.get(key, float('nan')):.4f}" for key in metrics],
             f"{figures.get('train_seconds', 0):.1f}", str(figures.get("epochs_run", "")),
             f"{figures.get('param_count', 0):,}"]
            for arch, figures in models.items()]
    widths = [max(len(str(cell)) for cell in column) for column in zip(columns, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) for row in [columns, *rows]]
    registered = summary.get("registered", {})
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"registry: {registered.get('model_name')} version {registered.get('version')} "
                 f"({registered.get('arch')}) -> @{registered.get('alias')}: {registered.get('reason')}")
    search = summary.get("tune")
    if search:
        counts = ", ".join(f"{count} {state}" for state, count in search["trials"].items() if count)
        best = (f"best trial {search['best_trial']} (val_loss {search['best_val_loss']:.4f}): "
                + ", ".join(f"{key}={_short_number(value)}" for key, value in search["best"].items())
                if search.get("best_val_loss") is not None else "no trial completed")
        lines.append(f"tune: {sum(search['trials'].values())} trial(s) ({counts}); {best}")
    lines.append(f"rows {summary.get('rows')} · wall {summary.get('wall_seconds')} s · "
                 f"MLflow parent run {summary.get('parent_run_id')}")
    return "\n".join(lines)


def _short_number(text: str) -> str:
    """A logged param's value, a float one to 4 significant digits."""
    try:
        value = float(text)
    except ValueError:
        return text
    return text if value.is_integer() and "." not in text else f"{value:.4g}"


def read_run_summary(dag_id: str, dag_run_id: str) -> dict:
    from pipeline.lineage import dag_run_key
    from pipeline.tracking import find_run_summary

    return find_run_summary(dag_run_key(dag_id, dag_run_id))


def predict(model_name: str, texts: list[str], alias: str = CHAMPION) -> list[dict]:
    import mlflow.pyfunc

    from pipeline.batch import version_of_alias

    configure_environment()
    model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version_of_alias(model_name, alias)}")
    predictions = model.predict(texts)
    return [{"text": text, **row} for text, row in zip(texts, predictions.to_dict(orient="records"))]


def predict_file(model_name: str, alias: str, input_path: Path, output_path: Path, text_column: str) -> str:
    from pipeline.batch import score_file, version_of_alias

    configure_environment()
    scored = score_file(model_name, version_of_alias(model_name, alias), input_path, output_path, text_column)
    counts = ", ".join(f"{label} {count}" for label, count in scored.label_counts.items())
    return (f"scored {scored.rows} rows of {input_path} with {model_name} version {scored.model_version} (@{alias}) "
            f"in {scored.seconds} s -> {output_path}" + (f" ({counts})" if counts else "")
            + f"; MLflow run {scored.run_id} in experiment {model_name}-batch")


DEFAULT_TRIALS = 10


def search_overrides(pipeline: str, overrides: list[str], trials: int | None, timeout_minutes: float | None,
                     model: str | None) -> list[str]:
    """``rnnflow tune``'s options as config overrides (a search is a run with ``tune.trials`` set)."""
    from pipeline.config import ConfigError, load_config

    if trials is not None and trials < 1:
        raise ConfigError(f"tune --trials: {trials}: give 1 or more")
    configured = load_config(pipeline, overrides).tune.trials
    added = [f"tune.trials={trials or configured or DEFAULT_TRIALS}"]
    if timeout_minutes is not None:
        added.append(f"tune.timeout_minutes={timeout_minutes}")
    if model is not None:
        added.append(f"tune.model={model}")
    return [*overrides, *added]


def main(argv: list[str] | None = None) -> int:
    from pipeline.config import discover_pipelines

    parser = argparse.ArgumentParser(prog="rnnflow", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a pipeline's DAG end to end (dag.test) and print its figures")
    run.add_argument("pipeline", nargs="?",
                     help=f"a pipeline's name ({', '.join(discover_pipelines()[0])}) or a pipeline YAML file")
    run.add_argument("--config", help="a pipeline YAML file (the same as giving its path as PIPELINE)")
    run.add_argument("--source", help="local corpus file or folder (skips the download)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="config override, e.g. --set train.epochs=3 (repeatable)")
    run.add_argument("--resume", action="store_true",
                     help="continue the pipeline's last interrupted DAG run (its own config, finished models "
                          "and training checkpoints) instead of starting a new one")
    shown = run.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print only the run's JSON summary line")
    shown.add_argument("--verbose", action="store_true", help="show Airflow, TensorFlow and MLflow logs too")
    tune = commands.add_parser("tune", help="search a model's hyperparameters (Optuna trials in the DAG), then "
                                            "train, compare and register with the best values")
    tune.add_argument("pipeline", help="a pipeline's name or a pipeline YAML file")
    tune.add_argument("--trials", type=int, help=f"trials to run (default: the config's tune.trials, else "
                                                 f"{DEFAULT_TRIALS})")
    tune.add_argument("--timeout-minutes", type=float, help="start no trial after this many minutes")
    tune.add_argument("--model", help="the architecture to tune (default: the first Keras model of train.models)")
    tune.add_argument("--source", help="local corpus file or folder (skips the download)")
    tune.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="config override, e.g. --set 'tune.space={model.units: {low: 32, high: 128}}'")
    tune_shown = tune.add_mutually_exclusive_group()
    tune_shown.add_argument("--json", action="store_true", help="print only the run's JSON summary line")
    tune_shown.add_argument("--verbose", action="store_true", help="show Airflow, TensorFlow and MLflow logs too")
    init = commands.add_parser("init", help="sniff a table and write a commented starter pipeline YAML")
    init.add_argument("--source", required=True, help="a CSV, TSV, JSONL, Parquet or Excel file")
    init.add_argument("--output", help="where to write the YAML (default: <file stem>.yaml here)")
    init.add_argument("--name", help="the pipeline's name (default: the file's stem)")
    init.add_argument("--force", action="store_true", help="overwrite an existing YAML")
    demo = commands.add_parser("demo", help="the NSMC pipeline end to end; falls back to a generated sample offline")
    demo.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    demo_shown = demo.add_mutually_exclusive_group()
    demo_shown.add_argument("--json", action="store_true", help="print only the run's JSON summary line")
    demo_shown.add_argument("--verbose", action="store_true", help="show Airflow, TensorFlow and MLflow logs too")
    pred = commands.add_parser("predict", help="predict texts or a table file with a registered model (@champion)")
    pred.add_argument("model_name")
    pred.add_argument("texts", nargs="*", help="texts to predict (printed as JSON lines)")
    pred.add_argument("--alias", default=CHAMPION)
    pred.add_argument("--input", help="a CSV, TSV, JSONL, Parquet or Excel file to score instead of TEXTs")
    pred.add_argument("--output", help="where --input's predictions go (.parquet, .csv or .jsonl)")
    pred.add_argument("--text-column", default="text", help="--input's text column (a one-column file needs none)")
    promote = commands.add_parser("promote", help="move @champion to a version by hand, with a recorded reason")
    promote.add_argument("model_name")
    promote.add_argument("version")
    promote.add_argument("--reason", required=True, help="why: recorded on the version (tag and description)")
    rollback = commands.add_parser("rollback", help="give @champion back to the version the champion replaced")
    rollback.add_argument("model_name")
    rollback.add_argument("--reason", default="", help="why: recorded on the version")
    serve = commands.add_parser("serve", help="serve a registered model over HTTP (the MLflow scoring server)")
    serve.add_argument("ref", help="NAME@alias (default @champion) or NAME/VERSION")
    serve.add_argument("--port", type=int, default=5001)
    serve.add_argument("--host", default="127.0.0.1", help="the interface to listen on (loopback by default)")
    lineage = commands.add_parser("lineage", help="where a registered version came from, each link checked")
    lineage.add_argument("ref", nargs="?", help="NAME@alias, NAME/VERSION or NAME (its @champion)")
    lineage.add_argument("--dag-run", metavar="DAG_ID/RUN_ID", help="walk from a DAG run to its runs and version")
    commands.add_parser("env", help="print the environment that reaches the local Airflow and MLflow stores")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command in ("lineage", "predict", "promote", "rollback"):
        # Their answer is a few lines: MLflow's INFO chatter (creating a fresh store's tables, say)
        # would bury it. Runs keep every log in their log file; the server keeps its own.
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

    try:
        if args.command == "env":
            for key, value in configure_environment().items():
                print(f"export {key}={value}")
        elif args.command == "run":
            pipeline = args.config or args.pipeline
            if not pipeline or (args.config and args.pipeline):
                parser.error("run: give a pipeline's name or --config FILE (one of them)")
            return run_command(pipeline, lambda: run_pipeline(pipeline, args.source, args.overrides, args.resume),
                               args.json, args.verbose)
        elif args.command == "tune":
            overrides = search_overrides(args.pipeline, args.overrides, args.trials, args.timeout_minutes, args.model)
            return run_command(args.pipeline, lambda: run_pipeline(args.pipeline, args.source, overrides),
                               args.json, args.verbose)
        elif args.command == "init":
            from pipeline.init import write_starter

            path = write_starter(Path(args.source), Path(args.output) if args.output else None, args.name,
                                 force=args.force)
            print(f"wrote {path}; run it with: rnnflow run --config {path}")
        elif args.command == "demo":
            return run_command("demo", lambda: run_demo(args.overrides), args.json, args.verbose)
        elif args.command == "serve":
            serve_model(args.ref, args.host, args.port)
        elif args.command == "lineage":
            if bool(args.ref) == bool(args.dag_run):
                parser.error("lineage: give a model reference or --dag-run DAG_ID/RUN_ID (one of them)")
            return print_lineage(args.ref, args.dag_run)
        elif args.command in ("promote", "rollback"):
            print(move_champion(args))
        elif args.command == "predict":
            if bool(args.texts) == bool(args.input) or bool(args.input) != bool(args.output):
                parser.error("predict: give TEXTs, or --input FILE with --output FILE")
            if args.input:
                print(predict_file(args.model_name, args.alias, Path(args.input), Path(args.output), args.text_column))
            else:
                for row in predict(args.model_name, args.texts, args.alias):
                    print(json.dumps(row, ensure_ascii=False))
    except user_errors() as exc:
        print(f"rnnflow: error: {exc}", file=sys.stderr)
        return 2
    return 0


def serve_model(ref: str, host: str, port: int) -> None:
    """Replace this process with ``mlflow models serve`` for the referenced version, in this
    environment (``--env-manager local``) with the environment's ``bin`` on PATH: the scoring
    server shells out to ``uvicorn``, which is found only there."""
    import mlflow

    from pipeline.batch import NoSuchModel
    from pipeline.trace import resolve_version

    configure_environment()
    try:
        version = resolve_version(mlflow.MlflowClient(), ref if "@" in ref or "/" in ref else f"{ref}@{CHAMPION}")
    except Exception as exc:
        raise NoSuchModel(f"{ref}: no such registered version ({str(exc).splitlines()[0]})") from None
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}
    command = [str(Path(bin_dir) / "mlflow"), "models", "serve", "-m", f"models:/{version.name}/{version.version}",
               "--env-manager", "local", "--host", host, "--port", str(port)]
    print(f"rnnflow: serving {version.name} version {version.version} ({ref}) at http://{host}:{port}/invocations; "
          f"Ctrl-C stops it", file=sys.stderr, flush=True)
    os.execve(command[0], command, env)


def print_lineage(ref: str | None, dag_run: str | None) -> int:
    """Exit 0 when every link resolves, 1 when one is broken (printed as BROKEN with its reason)."""
    import mlflow

    from pipeline.trace import trace_dag_run, trace_version

    configure_environment()
    client = mlflow.MlflowClient()
    if dag_run:
        dag_id, _, run_id = dag_run.partition("/")
        if not run_id:
            raise ValueError(f"--dag-run {dag_run}: expected DAG_ID/RUN_ID")
        trace = trace_dag_run(client, dag_id, run_id)
    else:
        trace = trace_version(client, ref)
    print(trace.render())
    return 0 if trace.complete else 1


def move_champion(args) -> str:
    """``rnnflow promote`` / ``rollback``: who, what and why recorded on the version."""
    import getpass

    import mlflow

    from pipeline.stages.register import promote_by_hand, rollback

    configure_environment()
    client = mlflow.MlflowClient()
    who = os.environ.get("RNNFLOW_USER") or getpass.getuser()
    if args.command == "promote":
        previous = promote_by_hand(client, args.model_name, args.version, args.reason, who)
        return f"{args.model_name} version {args.version} is @champion (was: {previous or 'none'})"
    current, restored = rollback(client, args.model_name, args.reason, who)
    return f"{args.model_name}: @champion back to version {restored} (from {current})"


def user_errors() -> tuple[type[Exception], ...]:
    """What a user's input or config can cause: said as one line, exit 2."""
    from pipeline.config import ConfigError
    from pipeline.corpora.errors import CorpusFormatError, CorpusUnavailableError

    return (ConfigError, CorpusUnavailableError, CorpusFormatError, FileNotFoundError, FileExistsError, LookupError,
            ValueError)


def run_command(pipeline: str, produce, as_json: bool, verbose: bool) -> int:
    """``rnnflow run`` and ``demo``: progress on the terminal, logs in a file, then the table (or
    the JSON line). ``produce()`` runs the pipeline and returns its summary."""
    log_path = run_log_path(pipeline)
    try:
        with console_and_log(log_path, verbose, show_progress=not as_json):
            if not verbose:
                progress.line(f"rnnflow: logs in {log_path} (--verbose shows them here)")
            summary = produce()
    except RunFailed as exc:
        print(f"rnnflow: error: {exc}", file=sys.stderr)
        if not verbose:
            print(f"rnnflow: the full log is {log_path}", file=sys.stderr)
        return 2 if exc.bad_input else 1
    except Exception as exc:
        if isinstance(exc, user_errors()):
            raise  # main() words these as one line, exit 2
        # A fault of rnnflow or its stack, not of the user's input: one line, the traceback in the log.
        with open(log_path, "a", encoding="utf-8") as log_file:
            traceback.print_exc(file=log_file)
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"rnnflow: error: {type(exc).__name__}: {first_line}", file=sys.stderr)
        print(f"rnnflow: the traceback is in {log_path}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(summary_table(summary))
    for row in summary.get("champion_predictions", []):
        print(f"  {row['label']:<9} {row['probability']:.3f}  {row['text']}")
    return 0


def run_demo(overrides: list[str]) -> dict:
    """NSMC end to end; offline, on the generated sample corpus, said loudly."""
    from pipeline.corpora.errors import CorpusUnavailableError
    from pipeline.corpora.sample import write_sample_corpus

    configure_environment()
    try:
        check_corpus_reachable("nsmc", overrides)
        source = None
    except CorpusUnavailableError as exc:
        source = str(write_sample_corpus(state_root() / "data" / "sample" / "nsmc"))
        # A model of template sentences must never compete with a real NSMC champion.
        overrides = [f"registry.model_name={SAMPLE_MODEL_NAME}", f"tracking.experiment={SAMPLE_MODEL_NAME}",
                     *overrides]
        banner = "!" * 78
        progress.line(f"{banner}\nNSMC COULD NOT BE DOWNLOADED: {str(exc).splitlines()[0]}\n"
                      f"FALLING BACK TO THE GENERATED SAMPLE CORPUS IN {source}\n"
                      f"(template sentences, not real reviews), registered as {SAMPLE_MODEL_NAME}.\n"
                      f"For the real corpus: rnnflow run nsmc --source PATH\n{banner}")
    summary = run_pipeline("nsmc", source, overrides)
    summary["corpus"] = "generated sample" if source else "NSMC"
    summary["champion_predictions"] = predict(summary["registered"]["model_name"], SAMPLE_SENTENCES)
    return summary


if __name__ == "__main__":
    sys.exit(main())
