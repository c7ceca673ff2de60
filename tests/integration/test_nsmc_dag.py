"""The NSMC DAG end to end with dag.test(): real Airflow, real Keras, real MLflow registry."""

import json
import os
import subprocess
import sys

import mlflow
import numpy as np
import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _load_dag():
    from pipeline.cli.airflow_runs import load_dag

    return load_dag("nsmc")


def test_dag_registers_and_promotes_then_reruns_idempotently(airflow_db, mlflow_store, sample_corpus, tmp_path):
    overrides = [f"data_root={tmp_path / 'data'}", f"corpus.source={sample_corpus}", "text.workers=1",
                 "train.epochs=2", "train.batch_size=16", "model.units=8", "model.embedding_dim=8",
                 "tracking.experiment=dag-test"]
    dag_run = _load_dag().test(run_conf={"overrides": overrides})
    assert str(getattr(dag_run.state, "value", dag_run.state)) == "success"

    client = mlflow.MlflowClient()
    versions = client.search_model_versions("name = 'nsmc-sentiment'")
    assert [str(v.version) for v in versions] == ["1"]
    tags = versions[0].tags
    assert tags["rnnflow.dag_id"] == "nsmc_sentiment"
    assert tags["rnnflow.dag_run_id"] == dag_run.run_id
    assert len(tags["rnnflow.data_digest"]) == 16
    assert len(tags["rnnflow.config_hash"]) == 16
    assert tags["rnnflow.git_commit"]
    assert tags["rnnflow.arch"] == "lstm"
    assert 0.0 <= float(tags["rnnflow.test_accuracy"]) <= 1.0
    assert str(client.get_model_version_by_alias("nsmc-sentiment", "champion").version) == "1"

    child = client.get_run(tags["rnnflow.run_id"])
    assert {"test_accuracy", "test_f1", "train_seconds"} <= set(child.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(child.info.run_id, "evaluation")}
    assert {"evaluation/confusion_matrix.png", "evaluation/misclassified.json",
            "evaluation/per_class_report.json"} <= artifacts
    parent_id = child.data.tags["mlflow.parentRunId"]
    summary = mlflow.artifacts.load_dict(f"runs:/{parent_id}/summary.json")
    assert summary["registered"]["version"] == "1" and summary["rows"]["test"] == 30

    # What the MLflow UI shows: a training experiment, a parent run and a version that explain themselves.
    experiment = client.get_experiment_by_name("dag-test")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert "nsmc" in experiment.tags["mlflow.note.content"] and "@champion" in experiment.tags["mlflow.note.content"]
    parent = client.get_run(parent_id)
    assert parent.info.run_name.startswith("nsmc 20") and child.info.run_name == "lstm"
    story = parent.data.tags["mlflow.note.content"]
    assert story.startswith("## nsmc: `lstm` won (accuracy ")
    assert "| **lstm** | " in story and "(30 rows)" in story and "### Data validation: " in story
    assert "**Registry:** `nsmc-sentiment` version 1 (`lstm`) → **`@champion`**: no champion yet" in story
    assert f"#/experiments/{experiment.experiment_id}/runs/{parent_id}" in child.data.tags["mlflow.note.content"]
    described = client.get_model_version("nsmc-sentiment", "1").description
    assert described.startswith("`lstm`, test split: accuracy ") and tags["rnnflow.data_digest"][:12] in described
    assert "`@champion`: no champion yet" in described
    model_description = client.get_registered_model("nsmc-sentiment").description
    assert "Labels: `negative`, `positive`" in model_description and "`probability`" in model_description

    # Rerunning every task for the same DAG run reuses runs, caches and the version.
    from pipeline.orchestration import tasks

    run = tasks.start_run("nsmc", {"overrides": overrides}, "nsmc_sentiment", dag_run.run_id)
    assert run["parent_run_id"] == parent_id
    prepared = tasks.preprocess(run, tasks.ingest(run))
    trained = tasks.train(run, prepared, "lstm")
    assert trained["run_id"] == child.info.run_id
    registered = tasks.register(run, prepared, [tasks.evaluate(run, prepared, trained)])
    assert registered["version"] == "1" and registered["alias"] == "champion"
    assert len(client.search_model_versions("name = 'nsmc-sentiment'")) == 1

    # In the Airflow UI the mapped tasks are named by their architecture, not 0, 1, ...
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        mapped = session.query(TaskInstance).filter(TaskInstance.dag_id == "nsmc_sentiment",
                                                    TaskInstance.run_id == dag_run.run_id,
                                                    TaskInstance.task_id.in_(["train", "evaluate"])).all()
        assert sorted((ti.task_id, ti.rendered_map_index) for ti in mapped) == [("evaluate", "lstm"), ("train", "lstm")]

    # A fresh process loads the champion from the registry and labels raw Korean text.
    code = ("import json, sys, mlflow.pyfunc; m = mlflow.pyfunc.load_model('models:/nsmc-sentiment@champion'); "
            "print(json.dumps(m.predict(['정말 재밌어요 최고', '너무 지루했다 최악']).to_dict('records'), ensure_ascii=False))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_store}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    assert [set(row) for row in rows] == [{"label", "label_id", "probability", "known_tokens"}] * 2
    assert all(row["label"] in {"negative", "positive"} and 0.5 <= row["probability"] <= 1 for row in rows)

    # Lineage: every link from the version back to data, config, code and DAG run resolves.
    from pipeline.tracking.trace import trace_dag_run, trace_version

    trace = trace_version(client, "nsmc-sentiment@champion")
    assert trace.complete, trace.render()
    assert [link.name for link in trace.links] == ["model", "promotion", "training run", "parent run",
                                                   "airflow dag run", "config", "data", "test split", "tokenizer",
                                                   "code"]
    assert f"nsmc_sentiment / {dag_run.run_id} (success" in trace.render()
    backwards = trace_dag_run(client, "nsmc_sentiment", dag_run.run_id)
    assert backwards.complete and "nsmc-sentiment version 1 (@champion)" in backwards.render()


def test_bad_input_fails_the_run_at_once_and_registers_nothing(airflow_db, mlflow_store, tmp_path):
    from tests.conftest import write_nsmc

    folder = tmp_path / "bad"
    folder.mkdir()
    write_nsmc(folder / "ratings_train.txt", ["1\t좋다\t1", "2\t별로\t3"])
    write_nsmc(folder / "ratings_test.txt", ["3\t좋다\t1"])
    dag_run = _load_dag().test(run_conf={"overrides": [f"data_root={tmp_path / 'data'}", f"corpus.source={folder}",
                                                       "tracking.experiment=bad-input"]})
    assert str(getattr(dag_run.state, "value", dag_run.state)) == "failed"
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ingest = session.query(TaskInstance).filter_by(dag_id="nsmc_sentiment", run_id=dag_run.run_id,
                                                       task_id="ingest").one()
        # Failed on its first try although it has retries: bad input is not retried.
        assert (str(ingest.state), ingest.try_number, ingest.max_tries) == ("failed", 1, 2)
    client = mlflow.MlflowClient()
    assert client.search_registered_models() == []
    [parent] = client.search_runs([client.get_experiment_by_name("bad-input").experiment_id])
    assert parent.info.status == "FAILED"
    assert parent.data.tags["rnnflow.failed_task"] == "ingest"
    assert "ratings_train.txt:3: label '3' is not 0 or 1" in parent.data.tags["rnnflow.error"]
    # The run's page says so too, not "running".
    assert parent.data.tags["mlflow.note.content"].startswith("## nsmc: failed in task `ingest`\n\n```\n")
    assert not (tmp_path / "data" / "processed" / "ingest").exists() or \
        list((tmp_path / "data" / "processed" / "ingest").iterdir()) == []


def test_cli_offline_says_how_to_pass_source(tmp_path):
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "rnnflow"), "run", "nsmc", "--set", f"data_root={tmp_path}",
         "--set", "corpus.urls={ratings_train.txt: 'http://127.0.0.1:9/a', ratings_test.txt: 'http://127.0.0.1:9/b'}",
         "--set", "corpus.download_timeout_seconds=5"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "--source PATH" in result.stderr
    assert not (tmp_path / "processed").exists()


def test_baselines_and_several_architectures_compete_in_one_run(airflow_db, mlflow_store, sample_corpus, tmp_path):
    overrides = [f"data_root={tmp_path / 'data'}", f"corpus.source={sample_corpus}", "text.workers=1",
                 "train.epochs=1", "train.batch_size=16", "model.units=4", "model.embedding_dim=4",
                 "model.baseline_min_df=1", "train.models=[bilstm_attention, tfidf_nb, tfidf_logreg]",
                 "tracking.experiment=zoo-test"]
    # Run from a pipeline file outside the pipelines folders, as `rnnflow run path/to/nsmc.yaml` does:
    # every task must load the config from that path again.
    from pipeline.cli.airflow_runs import load_dag
    from pipeline.config import CONFIG_DIR

    own_file = tmp_path / "own" / "nsmc.yaml"
    own_file.parent.mkdir()
    own_file.write_text((CONFIG_DIR / "nsmc.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    dag_run = load_dag(str(own_file)).test(run_conf={"overrides": overrides})
    assert str(getattr(dag_run.state, "value", dag_run.state)) == "success"
    client = mlflow.MlflowClient()
    children = client.search_runs([client.get_experiment_by_name("zoo-test").experiment_id],
                                  filter_string="tags.`rnnflow.role` = 'child'")
    models = {"bilstm_attention", "tfidf_nb", "tfidf_logreg"}
    assert {run.data.tags["rnnflow.arch"] for run in children} == models | {"ensemble"}
    assert all("test_accuracy" in run.data.metrics for run in children)
    # The ensemble: members chosen on validation among the run's models, each with its probabilities.
    [ensemble_run] = [run for run in children if run.data.tags["rnnflow.arch"] == "ensemble"]
    members = mlflow.artifacts.load_dict(f"runs:/{ensemble_run.info.run_id}/ensemble.json")["members"]
    assert 2 <= len(members) <= 3 and {m["arch"] for m in members} <= models
    assert ensemble_run.data.params["members"] == ",".join(m["arch"] for m in members)
    for run in children:
        if run.data.tags["rnnflow.arch"] in models:
            path = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=str(tmp_path / run.info.run_id),
                                                       artifact_path="evaluation/probabilities.npz")
            with np.load(path) as probabilities:
                assert probabilities["test"].shape == (30, 2) and probabilities["valid"].shape[1] == 2
                np.testing.assert_allclose(probabilities["test"].sum(axis=1), 1.0, rtol=1e-5)
    [attention_run] = [run for run in children if run.data.tags["rnnflow.arch"] == "bilstm_attention"]
    evaluation = {a.path for a in client.list_artifacts(attention_run.info.run_id, "evaluation")}
    assert {"evaluation/attention_heatmap.png", "evaluation/attention_examples.json"} <= evaluation
    examples = mlflow.artifacts.load_dict(f"runs:/{attention_run.info.run_id}/evaluation/attention_examples.json")
    assert len(examples) == 8 and len({example["test_row"] for example in examples}) == 8
    assert all(len(e["tokens"]) == len(e["weights"]) and sum(e["weights"]) == pytest.approx(1, abs=1e-3)
               for e in examples)
    [version] = client.search_model_versions("name = 'nsmc-sentiment'")
    best = max(children, key=lambda run: run.data.metrics["test_accuracy"])
    # Ties are possible on a tiny corpus: the registered model has the best score, whichever it is.
    assert float(version.tags["rnnflow.test_accuracy"]) == pytest.approx(best.data.metrics["test_accuracy"])
    parent_id = children[0].data.tags["mlflow.parentRunId"]
    comparison = {a.path for a in client.list_artifacts(parent_id, "comparison")}
    assert {"comparison/chart.png", "comparison/table.csv", "comparison/table.json"} <= comparison
    table = mlflow.artifacts.load_text(f"runs:/{parent_id}/comparison/table.csv").splitlines()
    assert len(table) == 5 and float(table[1].split(",")[1]) == round(best.data.metrics["test_accuracy"], 4)
    predictions = mlflow.pyfunc.load_model("models:/nsmc-sentiment@champion").predict(["정말 최고의 영화", "최악이다"])
    assert list(predictions.columns) == ["label", "label_id", "probability", "known_tokens"] and len(predictions) == 2
