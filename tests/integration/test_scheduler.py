"""The NSMC DAG under a real Airflow: `airflow standalone` (scheduler, dag-processor, triggerer,
api-server, LocalExecutor) on its own SQLite home, triggered through the CLI like a user would."""

import json

import mlflow
import pytest

from tests.services import (
    AIRFLOW,
    ProcessGroup,
    StepTimer,
    _query,
    airflow_cli,
    airflow_env,
    dag_parsed,
    free_port,
    run_state,
    wait_for,
)

# One worker runs the real-service tests one after another (make test runs pytest-xdist):
# concurrently they would fight over two cores and ports.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("services")]


def test_triggered_run_succeeds_under_the_scheduler(tmp_path, sample_corpus):
    step = StepTimer("standalone scheduler")
    port = free_port()
    mlflow_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # A user's pipelines folder: one YAML becomes a DAG; a broken one is an import error that names
    # the file and the field, and every other DAG still loads.
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "own_reviews.yaml").write_text(
        "dag: {schedule: '0 4 * * *', tags: [own]}\n"
        "corpus: {name: table, source: /srv/reviews.csv, text_column: review, label_column: label}\n",
        encoding="utf-8")
    (pipelines / "broken.yaml").write_text("corpus: {name: table, source: x.csv, label_column: y}\n",
                                           encoding="utf-8")
    env = airflow_env(tmp_path / "airflow", port, MLFLOW_TRACKING_URI=mlflow_uri, RNNFLOW_PIPELINES=str(pipelines))
    airflow_cli(env, "db", "migrate", timeout=600)
    step("db migrate")
    group = ProcessGroup(tmp_path)
    group.start("standalone", [AIRFLOW, "standalone"], env)
    try:
        wait_for(lambda: dag_parsed(env, "nsmc_sentiment"), 300, "the dag-processor to parse nsmc_sentiment", group)
        step("start and parse")
        assert dag_parsed(env, "own_reviews")
        # The JSON is the last line: Airflow may print warnings (graphviz missing) before it.
        listed = airflow_cli(env, "dags", "list", "--output", "json").strip().splitlines()[-1]
        assert {"own_reviews", "nsmc_sentiment", "sms_spam"} <= {row["dag_id"] for row in json.loads(listed)}
        # The broken file is the import error of rnnflow_pipeline_errors.py, naming the file and the
        # field; that file holds no DAG, so no pipeline's DAG is marked stale (the run below succeeds).
        errors = wait_for(lambda: _query(env, "SELECT filename, stacktrace FROM import_error"), 120,
                          "the broken pipeline file's import error", group)
        assert [filename for filename, _ in errors] == ["rnnflow_pipeline_errors.py"]
        assert f"{pipelines / 'broken.yaml'} is invalid: corpus.text_column: required field missing" in errors[0][1]
        assert _query(env, "SELECT dag_id FROM dag WHERE is_stale OR has_import_errors") == []
        [(description,)] = _query(env, "SELECT description FROM dag WHERE dag_id = 'rnnflow_broken_pipeline_files'")
        assert str(pipelines / "broken.yaml") in description
        assert "corpus.text_column: required field missing" in description
        step("pipelines folder")
        conf = {"overrides": [f"data_root={tmp_path / 'data'}", f"corpus.source={sample_corpus}",
                              "text.chunk_size=25", "train.epochs=2", "train.batch_size=16", "model.units=8",
                              "model.embedding_dim=8", "tracking.experiment=scheduler-test"]}
        run_id = "scheduler-test"
        airflow_cli(env, "dags", "trigger", "nsmc_sentiment", "--conf", json.dumps(conf), "--run-id", run_id)
        airflow_cli(env, "dags", "unpause", "nsmc_sentiment")
        assert wait_for(lambda: run_state(env, "nsmc_sentiment", run_id), 900, f"run {run_id} to finish",
                        group, interval=3) == "success"
        step("DAG run")
    finally:
        leftovers = group.stop()
        step("teardown")
    assert leftovers == [], f"processes left after teardown: {leftovers}"

    client = mlflow.MlflowClient(mlflow_uri, mlflow_uri)
    champion = client.get_model_version_by_alias("nsmc-sentiment", "champion")
    assert champion.tags["rnnflow.dag_run_id"] == run_id
