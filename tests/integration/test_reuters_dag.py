"""The Reuters DAG end to end on a generated Reuters-21578 SGML folder: multi-class, softmax, real stores."""

import mlflow
import numpy as np
import pytest

from tests.corpora.test_reuters import _document

pytestmark = pytest.mark.slow

TOPICS = {"earn": "profit net shares dividend quarter", "acq": "merger acquire stake takeover bid",
          "crude": "oil barrels opec refinery crude", "grain": "wheat corn harvest tonnes export"}


@pytest.fixture
def reuters_folder(tmp_path):
    rng = np.random.default_rng(5)
    docs, new_id = [], 0
    for split, per_topic in (("TRAIN", 24), ("TEST", 8)):
        for topic, words in TOPICS.items():
            for _ in range(per_topic):
                new_id += 1
                body = " ".join(rng.choice(words.split() + ["the", "said", "company", "market"], size=12))
                docs.append(_document(new_id, split, [topic], f"{body}."))
    folder = tmp_path / "reuters"
    folder.mkdir()
    (folder / "reut2-000.sgm").write_bytes("".join(docs).encode("latin-1"))
    return folder


def test_reuters_dag_trains_softmax_models_and_registers_the_best(airflow_db, mlflow_store, reuters_folder, tmp_path):
    from pipeline.cli.airflow_runs import load_dag

    overrides = [f"data_root={tmp_path / 'data'}", f"corpus.source={reuters_folder}", "corpus.name=reuters_sgml",
                 "corpus.subset=r52", "text.workers=1", "train.epochs=2", "model.units=8", "model.embedding_dim=8",
                 "model.baseline_min_df=1", "train.models=[bilstm_attention, tfidf_logreg]",
                 "tracking.experiment=reuters-test"]
    dag_run = load_dag("reuters").test(run_conf={"overrides": overrides})
    assert str(getattr(dag_run.state, "value", dag_run.state)) == "success"
    client = mlflow.MlflowClient()
    children = client.search_runs([client.get_experiment_by_name("reuters-test").experiment_id],
                                  filter_string="tags.`rnnflow.role` = 'child'")
    # Two models: the ensemble of both (chosen on validation) competes as a third.
    assert {run.data.tags["rnnflow.arch"] for run in children} == {"bilstm_attention", "tfidf_logreg", "ensemble"}
    for run in children:
        assert {"test_accuracy", "test_macro_f1", "test_top_3_accuracy"} <= set(run.data.metrics)
        report = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/evaluation/per_class_report.json")
        assert sorted(report["data"][i][0] for i in range(len(report["data"]))) == sorted(TOPICS)
    [version] = client.search_model_versions("name = 'reuters-topics'")
    assert str(client.get_model_version_by_alias("reuters-topics", "champion").version) == str(version.version)
    model = mlflow.pyfunc.load_model("models:/reuters-topics@champion")
    predictions = model.predict(["oil barrels opec refinery output rose", "wheat corn harvest tonnes"])
    assert set(predictions["label"]) <= set(TOPICS)

