"""The distributed deployment, for real: CeleryExecutor on PostgreSQL and Redis, the training task on
the ``gpu`` queue, and an MLflow server on PostgreSQL with served artifacts.

Fresh databases on the machine's PostgreSQL (127.0.0.1:5432) and an empty Redis database number;
the Airflow scheduler, dag-processor, api-server and one Celery worker (queues default and gpu)
and ``mlflow server`` run as separate processes, configured only through the environment, as
docker/compose.yaml configures them. The DAG files and pipeline code are the ones every other
test uses, unchanged; the pipeline is a user's file (``RNNFLOW_PIPELINES``): NSMC's, searching with
two trials at once, which only the pipeline file can ask for (``tune.parallel``).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import mlflow
import pytest
import yaml

from tests.conftest import PROJECT_ROOT
from tests.services import (
    AIRFLOW,
    ProcessGroup,
    StepTimer,
    airflow_cli,
    airflow_env,
    dag_parsed,
    free_port,
    http_ok,
    postgres_database,
    postgres_url,
    redis_database,
    run_state,
    wait_for,
)

# One worker runs the real-service tests one after another (make test runs pytest-xdist):
# concurrently they would fight over two cores and ports.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("services")]

PIPELINE = "nsmc_search"
DAG_ID = PIPELINE
MLFLOW = str(PROJECT_ROOT / ".venv" / "bin" / "mlflow")


def _mlflow_ready(uri: str) -> bool:
    return http_ok(f"{uri}/health", timeout=3)


def _task_rows(database: str, run_id: str) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(postgres_url(database)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT task_id, map_index, queue, state, hostname, start_date, end_date "
                       "FROM task_instance "
                       "WHERE dag_id = %s AND run_id = %s ORDER BY task_id, map_index", (DAG_ID, run_id))
        return cursor.fetchall()


def _search_pipeline(folder: Path) -> Path:
    """NSMC's pipeline file as a user's own, with a search of two trials that run at once."""
    data = yaml.safe_load((PROJECT_ROOT / "pipeline" / "configs" / "nsmc.yaml").read_text(encoding="utf-8"))
    data["pipeline"] = PIPELINE
    data["dag"]["dag_id"] = DAG_ID
    data["tune"] = {"trials": 2, "parallel": 2, "epochs": 1, "space": {"model.units": {"low": 4, "high": 16}}}
    folder.mkdir()
    (folder / f"{PIPELINE}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


def test_nsmc_dag_runs_on_celery_with_a_gpu_queue_and_an_mlflow_server(tmp_path, sample_corpus, monkeypatch):
    step = StepTimer("distributed")
    pipelines = _search_pipeline(tmp_path / "pipelines")
    with postgres_database("rnnflow_airflow") as airflow_db, postgres_database("rnnflow_mlflow") as mlflow_db, \
            redis_database() as broker:
        api_port, mlflow_port, log_port = free_port(), free_port(), free_port()
        mlflow_uri = f"http://127.0.0.1:{mlflow_port}"
        env = airflow_env(
            tmp_path / "airflow", api_port,
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgres_url(airflow_db, "postgresql+psycopg2"),
            AIRFLOW__CELERY__BROKER_URL=broker,
            AIRFLOW__CELERY__RESULT_BACKEND="db+" + postgres_url(airflow_db),
            AIRFLOW__CELERY__WORKER_LOG_SERVER_PORT=str(log_port),
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(16),
            RNNFLOW_TRAIN_QUEUE="gpu",
            RNNFLOW_PIPELINES=str(pipelines),
            MLFLOW_TRACKING_URI=mlflow_uri,
        )
        env.pop("MLFLOW_REGISTRY_URI", None)
        airflow_cli(env, "db", "migrate", timeout=600)
        step("databases and db migrate")

        group = ProcessGroup(tmp_path)
        group.start("mlflow", [MLFLOW, "server", "--backend-store-uri", postgres_url(mlflow_db),
                               "--artifacts-destination", str(tmp_path / "mlflow-artifacts"),
                               "--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1"], env)
        group.start("api-server", [AIRFLOW, "api-server", "--port", str(api_port), "--workers", "1"], env)
        group.start("scheduler", [AIRFLOW, "scheduler"], env)
        group.start("dag-processor", [AIRFLOW, "dag-processor"], env)
        group.start("worker", [AIRFLOW, "celery", "worker", "--queues", "default,gpu", "--concurrency", "2"], env)
        try:
            wait_for(lambda: _mlflow_ready(mlflow_uri), 180, "the MLflow server", group)
            wait_for(lambda: dag_parsed(env, DAG_ID), 300, f"the dag-processor to parse {DAG_ID}", group)
            step("services up, DAG parsed")
            run_id = "distributed-test"
            # No text.workers: the default uses every core, so tokenizing starts its process pool
            # inside the Celery task, as a real deployment does.
            conf = {"models": ["lstm", "tfidf_logreg"],
                    "overrides": [f"data_root={tmp_path / 'data'}", f"corpus.source={sample_corpus}",
                                  "text.chunk_size=25", "train.epochs=2", "train.batch_size=16",
                                  "model.units=8", "model.embedding_dim=8", "tracking.experiment=distributed-test"]}
            # The pipeline file's search: its trials run on the gpu queue, in other worker processes
            # than the task that reads the study's journal, and two at once (the worker's two
            # slots), each asking Optuna and logging its nested MLflow run while the other trains.
            airflow_cli(env, "dags", "trigger", DAG_ID, "--conf", json.dumps(conf), "--run-id", run_id)
            airflow_cli(env, "dags", "unpause", DAG_ID)
            state = wait_for(lambda: run_state(env, DAG_ID, run_id), 1200, f"run {run_id} to finish", group,
                             interval=5)
            assert state == "success", group.log_tail()
            step("DAG run")
            rows = _task_rows(airflow_db, run_id)

            monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
            mlflow.set_tracking_uri(mlflow_uri)
            mlflow.set_registry_uri(mlflow_uri)
            client = mlflow.MlflowClient(mlflow_uri, mlflow_uri)
            champion = client.get_model_version_by_alias("nsmc-sentiment", "champion")
            lstm = client.search_runs([client.get_experiment_by_name("distributed-test").experiment_id],
                                      "tags.`rnnflow.role` = 'child' and tags.`rnnflow.arch` = 'lstm'")[0]
            tuned_units = lstm.data.params["model.units"] if "rnnflow.trial" in lstm.data.tags else None
            model = mlflow.pyfunc.load_model("models:/nsmc-sentiment@champion")
            predictions = model.predict(["정말 재미있는 영화", "최악의 영화"])
            download_uri = client.get_model_version_download_uri("nsmc-sentiment", champion.version)
            step("champion loaded and queried")
        finally:
            leftovers = group.stop()
            step("teardown")

    assert leftovers == [], f"processes left after teardown: {leftovers}"
    trains = [row for row in rows if row[0] == "train"]
    assert len(trains) == 2 and all(row[2] == "gpu" and row[3] == "success" for row in trains), rows
    trials = [row for row in rows if row[0] == "tune_trial"]
    assert len(trials) == 2 and all(row[2] == "gpu" and row[3] == "success" for row in trials), rows
    assert max(row[5] for row in trials) < min(row[6] for row in trials), f"the trials did not overlap: {trials}"
    others = [row for row in rows if row[0] not in ("train", "tune_trial")]
    assert others and all(row[2] == "default" and row[3] == "success" for row in others), rows
    assert tuned_units is not None and 4 <= int(tuned_units) <= 16
    assert champion.tags["rnnflow.dag_run_id"] == run_id
    assert int(champion.version) == 1
    # The artifacts came back through the server (served artifacts), not from a shared path.
    assert download_uri.startswith("mlflow-artifacts:"), download_uri
    assert len(predictions) == 2
