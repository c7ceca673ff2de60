"""The NSMC DAG under a real Airflow: `airflow standalone` (scheduler, dag-processor, triggerer,
api-server, LocalExecutor) on its own SQLite home, triggered through the CLI like a user would."""

import json
import os
import signal
import socket
import subprocess
import time

import mlflow
import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

AIRFLOW = str(PROJECT_ROOT / ".venv" / "bin" / "airflow")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _airflow(env, *args, timeout=120) -> str:
    result = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"airflow {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout


def _json_rows(output: str) -> list[dict]:
    """The JSON list in a CLI's output; Airflow may print warnings to stdout before it."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("["):
            try:
                return json.loads("\n".join(lines[index:]))
            except json.JSONDecodeError:
                continue
    raise AssertionError(f"no JSON list in output:\n{output[-2000:]}")


def _wait_for(predicate, timeout: float, what: str, log_path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(3)
    raise AssertionError(f"timed out waiting for {what}; standalone log tail:\n{log_path.read_text()[-4000:]}")


def test_triggered_run_succeeds_under_the_scheduler(tmp_path, sample_corpus):
    port = _free_port()
    mlflow_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {
        **os.environ,
        # standalone starts its components as `airflow ...` subprocesses found on PATH.
        "PATH": f"{PROJECT_ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        # Only the triggered run: unpausing would otherwise also start the latest weekly run,
        # which downloads NSMC and would hold the DAG's single run slot (max_active_runs=1).
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "MLFLOW_TRACKING_URI": mlflow_uri,
    }
    _airflow(env, "db", "migrate", timeout=600)
    log_path = tmp_path / "standalone.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([AIRFLOW, "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        _wait_for(lambda: any(row.get("dag_id") == "nsmc_sentiment"
                              for row in _json_rows(_airflow(env, "dags", "list", "-o", "json"))),
                  300, "the dag-processor to parse nsmc_sentiment", log_path)
        conf = {"overrides": [f"data_root={tmp_path / 'data'}", f"corpus.source={sample_corpus}",
                              "text.workers=1", "train.epochs=2", "train.batch_size=16", "model.units=8",
                              "model.embedding_dim=8", "tracking.experiment=scheduler-test"]}
        run_id = "scheduler-test"
        _airflow(env, "dags", "trigger", "nsmc_sentiment", "--conf", json.dumps(conf), "--run-id", run_id)
        _airflow(env, "dags", "unpause", "nsmc_sentiment")

        def finished():
            runs = _json_rows(_airflow(env, "dags", "list-runs", "nsmc_sentiment", "-o", "json"))
            state = next((row["state"] for row in runs if row["run_id"] == run_id), None)
            return state if state in ("success", "failed") else None

        assert _wait_for(finished, 900, f"run {run_id} to finish", log_path) == "success"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

    client = mlflow.MlflowClient(mlflow_uri, mlflow_uri)
    champion = client.get_model_version_by_alias("nsmc-sentiment", "champion")
    assert champion.tags["rnnflow.dag_run_id"] == run_id
