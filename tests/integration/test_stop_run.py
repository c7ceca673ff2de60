"""SIGTERM or Ctrl-C during training stops `rnnflow run` within seconds, and leaves nothing that
claims to be running or finished: the DAG run is failed, its MLflow runs KILLED."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import mlflow
import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _command(sample_corpus, tmp_path, experiment: str, epochs: int = 500) -> list[str]:
    return [str(PROJECT_ROOT / ".venv" / "bin" / "rnnflow"), "run", "nsmc", "--source", str(sample_corpus),
            "--set", f"data_root={tmp_path / 'data'}", "--set", f"train.epochs={epochs}", "--set", "text.workers=1",
            "--set", "train.early_stopping_patience=500", "--set", f"tracking.experiment={experiment}"]


def _cli_env(mlflow_store: str) -> dict[str, str]:
    """`rnnflow run` as a user runs it, on the test's MLflow store (not in Airflow's unit-test mode)."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store}
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    return env


def _start(command: list[str], env: dict) -> tuple[subprocess.Popen, list[str], threading.Thread]:
    """The command in a subprocess, its output collected line by line as it comes."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    return process, lines, reader


def _start_training(command: list[str], env: dict, data_root: Path) -> tuple[subprocess.Popen, list[str],
                                                                          threading.Thread]:
    """`rnnflow run` in a subprocess, returned once it has finished some training epochs (its
    BackupAndRestore folder records one)."""
    process, lines, reader = _start(command, env)
    deadline = time.monotonic() + 600
    while not list(data_root.glob("runs/nsmc_sentiment/*/lstm/backup/training_metadata.json")):
        assert process.poll() is None and time.monotonic() < deadline, "".join(lines)[-3000:]
        time.sleep(0.5)
    time.sleep(2)  # a few epochs in
    return process, lines, reader


def _dag_run_state(run_id: str) -> str:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        state = session.scalars(select(DagRun.state).where(DagRun.dag_id == "nsmc_sentiment",
                                                           DagRun.run_id == run_id)).one()
    return str(getattr(state, "value", state))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_training_stops_the_run_and_marks_it(airflow_db, mlflow_store, sample_corpus, tmp_path,
                                                             signum):
    env = _cli_env(mlflow_store)
    process, lines, reader = _start_training(_command(sample_corpus, tmp_path, "stop-test"), env, tmp_path / "data")
    signalled = time.monotonic()
    process.send_signal(signum)
    code = process.wait(timeout=60)
    stopped_in = time.monotonic() - signalled
    reader.join(timeout=10)
    output = "".join(lines)
    assert code == 128 + signum, output[-3000:]
    assert stopped_in < 15, stopped_in
    assert f"{signal.Signals(signum).name}: stopping nsmc_sentiment" in output

    experiment = mlflow.get_experiment_by_name("stop-test")
    runs = mlflow.MlflowClient().search_runs([experiment.experiment_id])
    statuses = {run.data.tags.get("rnnflow.role"): run.info.status for run in runs}
    assert statuses == {"parent": "KILLED", "child": "KILLED"}, statuses
    assert all(run.data.tags["rnnflow.error"] == f"stopped by {signal.Signals(signum).name}" for run in runs)
    [parent] = [run for run in runs if run.data.tags.get("rnnflow.role") == "parent"]
    assert parent.data.tags["mlflow.note.content"].startswith(f"## {parent.info.run_name}: stopped")

    assert _dag_run_state(runs[0].data.tags["rnnflow.dag_run_id"]) == "failed"


def test_after_kill_9_resume_marks_the_orphan_and_continues_it_to_one_version(airflow_db, mlflow_store,
                                                                              sample_corpus, tmp_path):
    """kill -9 gives the process no chance to mark anything: the DAG run stays running and the MLflow
    runs RUNNING until the next `rnnflow run` finds them. `--resume` then continues that DAG run from
    its training backup, into the same parent MLflow run, and registers one version."""
    env = _cli_env(mlflow_store)
    epochs = 200
    process, _, _ = _start_training(_command(sample_corpus, tmp_path, "kill-test", epochs=epochs), env,
                                    tmp_path / "data")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("kill-test").experiment_id
    [killed_child] = client.search_runs([experiment], "tags.`rnnflow.role` = 'child'")
    orphan = killed_child.data.tags["rnnflow.dag_run_id"]
    assert killed_child.info.status == "RUNNING" and _dag_run_state(orphan) == "running"

    rnnflow = str(PROJECT_ROOT / ".venv" / "bin" / "rnnflow")
    result = subprocess.run([rnnflow, "run", "nsmc", "--resume"], capture_output=True, text=True, env=env, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert f"DAG run {orphan} was left running by a process that died: marked failed, 2 MLflow run(s) KILLED" \
        in output, output[-3000:]
    assert f"resuming DAG run {orphan}" in output
    assert _dag_run_state(orphan) == "failed"

    runs = client.search_runs([experiment], f"tags.`rnnflow.dag_run_id` = '{orphan}'")
    parent = next(run for run in runs if run.data.tags["rnnflow.role"] == "parent")
    children = sorted((run for run in runs if run.data.tags["rnnflow.role"] == "child"),
                      key=lambda run: run.info.start_time)
    assert parent.info.status == "FINISHED" and "rnnflow.error" not in parent.data.tags
    resumed_in = parent.data.tags["rnnflow.resumed_in"]
    assert resumed_in != orphan and _dag_run_state(resumed_in) == "success"
    assert [run.info.status for run in children] == ["KILLED", "FINISHED"]
    assert "process died" in children[0].data.tags["rnnflow.error"]
    # From the backup of its last finished epoch, not from scratch (patience 500: no early stop).
    assert 0 < children[1].data.metrics["epochs_run"] < epochs, output[-3000:]
    [version] = client.search_model_versions("name = 'nsmc-sentiment'")
    assert version.tags["rnnflow.dag_run_id"] == orphan and version.tags["rnnflow.resumed_in"] == resumed_in
    assert version.tags["rnnflow.run_id"] == children[1].info.run_id
    lineage = subprocess.run([rnnflow, "lineage", "nsmc-sentiment@champion"], capture_output=True, text=True,
                             env=env, timeout=300)
    assert f"nsmc_sentiment / {orphan} (failed" in lineage.stdout, lineage.stdout + lineage.stderr
    assert "resumed in airflow dag run" in lineage.stdout and f"nsmc_sentiment / {resumed_in} (success" \
        in lineage.stdout, lineage.stdout

    # Nothing left to resume: one line, exit 2.
    again = subprocess.run([rnnflow, "run", "nsmc", "--resume"], capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 2
    assert f"rnnflow: error: run --resume: the last DAG run of nsmc_sentiment, {resumed_in}, is success: nothing " \
           "to resume" in again.stderr, again.stderr[-2000:]


def test_sigterm_during_tokenization_stops_the_pool_and_leaves_no_partial_output(airflow_db, mlflow_store,
                                                                                  tmp_path):
    """The tokenizer pool's spawned workers (each with its own JVM) go with the run, and nothing
    half-written is left under the data root: the token cache is written only when complete."""
    import psutil

    from pipeline.corpora.sample import write_sample_corpus

    corpus = write_sample_corpus(tmp_path / "nsmc", train_rows=20000, test_rows=2000, seed=5)
    data_root = tmp_path / "data"
    command = [str(PROJECT_ROOT / ".venv" / "bin" / "rnnflow"), "run", "nsmc", "--source", str(corpus),
               "--set", f"data_root={data_root}", "--set", "text.tokenizer=kkma", "--set", "text.workers=2",
               "--set", "train.epochs=1", "--set", "tracking.experiment=stop-tokenizing"]
    env = _cli_env(mlflow_store)
    process, lines, reader = _start(command, env)

    def pool_workers() -> list[psutil.Process]:
        return [child for child in psutil.Process(process.pid).children(recursive=True)
                if "multiprocessing" in " ".join(child.cmdline())]

    deadline = time.monotonic() + 600
    while len(pool_workers()) < 2:
        assert process.poll() is None and time.monotonic() < deadline, "".join(lines)[-3000:]
        time.sleep(0.2)
    workers = pool_workers()
    time.sleep(5)  # the workers' JVMs are up and tokenizing
    assert process.poll() is None, "".join(lines)[-3000:]
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    stopped_in = time.monotonic() - signalled
    reader.join(timeout=10)
    output = "".join(lines)
    assert code == 128 + signal.SIGTERM, output[-3000:]
    assert stopped_in < 15, stopped_in
    assert "SIGTERM: stopping nsmc_sentiment" in output, output[-3000:]
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"tokenizer workers outlived the run: {[worker.pid for worker in alive]}"

    assert any(data_root.rglob("*.parquet")), "the ingested splits should be there"
    leftovers = [path for path in data_root.rglob("*") if path.name.startswith(".") or path.suffix == ".tmp"]
    assert not leftovers, leftovers
    assert not list((data_root / "processed" / "tokens").glob("*.parquet"))  # cached_tokenize's folder
    experiment = mlflow.get_experiment_by_name("stop-tokenizing")
    runs = mlflow.MlflowClient().search_runs([experiment.experiment_id]) if experiment else []
    assert runs and all(run.info.status == "KILLED" for run in runs), [(r.info.run_name, r.info.status) for r in runs]
    assert _dag_run_state(runs[0].data.tags["rnnflow.dag_run_id"]) == "failed"


def test_two_concurrent_runs_each_finish_and_leave_one_consistent_champion(airflow_db, mlflow_store, sample_corpus,
                                                                           tmp_path):
    """Two `rnnflow run` of one pipeline at once, on the default SQLite stores: both succeed, each
    registers its own version, and exactly one version holds `@champion`, the one whose decision
    says so last; the other's record is true too (challenger, or champion and then replaced)."""
    from pipeline.names import CHAMPION, DECISION_TAG

    env = _cli_env(mlflow_store)
    runs = [subprocess.Popen(_command(sample_corpus, tmp_path / f"run{i}", "concurrent-runs", epochs=2)
                             + ["--set", f"train.seed={i + 1}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=env) for i in range(2)]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [output[-3000:] for output in outputs]

    client = mlflow.MlflowClient()
    versions = client.search_model_versions("name = 'nsmc-sentiment'")
    assert len(versions) == 2, [(v.version, v.tags.get("rnnflow.dag_run_id")) for v in versions]
    assert len({v.tags["rnnflow.dag_run_id"] for v in versions}) == 2
    champion = str(client.get_model_version_by_alias("nsmc-sentiment", CHAMPION).version)
    [other] = [v for v in versions if str(v.version) != champion]
    assert client.get_model_version("nsmc-sentiment", champion).tags[DECISION_TAG] == CHAMPION
    assert other.tags[DECISION_TAG] != CHAMPION or f"replaced as `@champion` by version {champion}" \
        in other.description, other.description
    parents = client.search_runs([client.get_experiment_by_name("concurrent-runs").experiment_id],
                                 "tags.`rnnflow.role` = 'parent'")
    assert sorted(run.info.status for run in parents) == ["FINISHED", "FINISHED"]
