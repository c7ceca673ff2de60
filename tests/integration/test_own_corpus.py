"""A user's own corpus end to end, from a YAML file only: a Korean CSV with three string-labelled
classes, a Korean TSV with separate train and dev files, drift against the champion's data as a
warning and as an error, and `rnnflow run --config` output a person reads."""

from __future__ import annotations

import json
import os
import subprocess

import mlflow
import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

RNNFLOW = str(PROJECT_ROOT / ".venv" / "bin" / "rnnflow")
# Short Korean texts per class; each row gets a number so no two rows repeat.
CLASS_TEXTS = {
    "배송": ["배송이 너무 늦어요", "택배가 아직 안 왔어요", "배송 조회가 안 됩니다", "언제 도착하나요 배송"],
    "환불": ["환불해 주세요", "환불 요청합니다 돈 돌려주세요", "결제 취소하고 환불 원해요", "환불이 안 들어왔어요"],
    "칭찬": ["상품이 정말 좋아요 감사합니다", "친절한 상담 최고예요", "품질이 훌륭해요 만족", "또 구매할게요 좋아요"],
}


def write_csv(path, counts: dict[str, int]):
    lines = ["문의내용,분류"]
    for label, count in counts.items():
        texts = CLASS_TEXTS[label]
        lines += [f"{texts[i % len(texts)]} {i},{label}" for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_pipeline(path, source, data_root, extra: str = ""):
    path.write_text(f"""
corpus:
  name: table
  source: {source}
  text_column: 문의내용
  label_column: 분류
  test_fraction: 0.25
text:
  tokenizer: mecab
  min_freq: 1
train:
  models: [tfidf_logreg]
registry:
  model_name: {path.stem}-model
  metric: macro_f1
tracking:
  experiment: {path.stem}
data_root: {data_root}
{extra}
""", encoding="utf-8")
    return path


def run_cli(*args, env):
    return subprocess.run([RNNFLOW, "run", *args], capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture
def cli_env(airflow_db, mlflow_store):
    """The CLI as a user runs it, against the session's migrated Airflow DB and this test's MLflow."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store}
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    return env


def test_korean_csv_three_classes_yaml_only_then_drift_warns_then_stops(tmp_path, cli_env):
    balanced = write_csv(tmp_path / "tickets.csv", {"배송": 60, "환불": 60, "칭찬": 60})
    pipeline = write_pipeline(tmp_path / "tickets.yaml", balanced, tmp_path / "data")

    first = run_cli("--config", str(pipeline), env=cli_env)
    assert first.returncode == 0, first.stderr[-3000:]
    lines = first.stdout.strip().splitlines() + first.stderr.strip().splitlines()
    assert len(lines) < 40, lines
    assert "tfidf_logreg" in first.stdout and "macro_f1" in first.stdout
    assert "-> @champion" in first.stdout
    log_line = next(line for line in first.stderr.splitlines() if "logs in" in line)
    assert os.path.getsize(log_line.split("logs in ")[1].split(" (")[0]) > 0  # Airflow's logs went to the file

    model = mlflow.pyfunc.load_model("models:/tickets-model@champion")
    predicted = model.predict(["환불 요청합니다 돈 돌려주세요 빨리", "택배가 아직 안 왔어요 언제 오나요"])
    assert predicted["label"].tolist() == ["환불", "배송"]

    # The same pipeline on data whose label mix moved: a warning on the run and the new version.
    write_csv(balanced, {"배송": 150, "환불": 15, "칭찬": 15})
    second = run_cli("--config", str(pipeline), "--json", env=cli_env)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads(second.stdout.strip().splitlines()[-1])  # --json: the summary line only
    assert second.stdout.strip().count("\n") == 0
    client = mlflow.MlflowClient()
    parent = client.get_run(summary["parent_run_id"])
    assert parent.data.tags["rnnflow.validation"] == "warn"
    assert "label_drift_psi=" in parent.data.tags["rnnflow.validation_warnings"]
    version = client.get_model_version("tickets-model", summary["registered"]["version"])
    assert "label_drift_psi=" in version.tags["rnnflow.validation_warnings"]
    artifacts = {item.path for item in client.list_artifacts(parent.info.run_id, "validation")}
    assert {"validation/validation.md", "validation/validation.png", "validation/validation.json"} <= artifacts

    # With the drift limit at error the run stops at ingest, before any training.
    third = run_cli("--config", str(pipeline), "--set", "validation.label_drift_psi.error=0.1", env=cli_env)
    assert third.returncode == 2  # bad data: the user's to fix, not a fault of the run
    assert "rnnflow: error: DAG run " in third.stderr
    assert "task ingest failed" in third.stderr and "label_drift_psi" in third.stderr
    assert "tickets.csv, column '분류'" in third.stderr
    runs = client.search_runs([parent.info.experiment_id], order_by=["attributes.start_time DESC"])
    assert runs[0].info.status == "FAILED" and runs[0].data.tags["rnnflow.failed_task"] == "ingest"
    assert not [run for run in runs if run.data.tags.get("mlflow.parentRunId") == runs[0].info.run_id]


def test_korean_tsv_with_separate_train_and_dev_files(tmp_path, cli_env):
    train_tsv_pipeline(tmp_path, cli_env)


def train_tsv_pipeline(tmp_path, cli_env, tokenizer: str = "okt", name: str = "reviews"):
    """A Korean TSV pipeline with separate train and dev files, run once from the CLI; its file.
    ``name`` names the pipeline and its model (``<name>-model``): the tests of one pytest worker
    share an Airflow DB, where an asset name (``rnnflow.<name>.inbox``) keeps its first URI."""
    rows = {"train": 40, "dev": 12}
    for split, count in rows.items():
        lines = ["sentence\tlabel"]
        for i in range(count):
            label = ["긍정", "부정"][i % 2]
            text = ["정말 재밌고 감동적인 영화", "지루하고 돈 아까운 영화"][i % 2]
            lines.append(f"{text} {split} {i}\t{label}")
        (tmp_path / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pipeline = tmp_path / f"{name}.yaml"
    pipeline.write_text(f"""
corpus: {{name: table, source: {tmp_path / 'train.tsv'}, test_source: {tmp_path / 'dev.tsv'},
          text_column: sentence, label_column: label}}
text: {{tokenizer: {tokenizer}, min_freq: 1}}
train: {{models: [tfidf_nb]}}
registry: {{model_name: {name}-model}}
tracking: {{experiment: {name}}}
data_root: {tmp_path / 'data'}
""", encoding="utf-8")
    result = run_cli("--config", str(pipeline), "--json", env=cli_env)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["rows"]["test"] == 12
    assert {"test_accuracy", "test_macro_f1"} <= set(summary["models"]["tfidf_nb"])
    predicted = mlflow.pyfunc.load_model(f"models:/{name}-model@champion").predict(["감동적인 영화 최고"])
    assert predicted["label"].tolist() == ["긍정"]
    return pipeline


def _asset_events(uri: str) -> list:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalars(select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                               .where(AssetModel.uri == uri)).all()


def test_the_promotion_event_and_inbox_scoring_under_a_real_airflow_run(tmp_path, cli_env, monkeypatch):
    """The TSV pipeline's promotion updates the champion asset; its batch DAG then scores the inbox
    with the champion, rejects a file it cannot read, and a rerun scores nothing twice."""
    import pandas as pd

    from pipeline.cli.airflow_runs import make_discoverable
    from pipeline.config import load_config
    from pipeline.orchestration.workflow import batch_dag

    # MeCab, not a konlpy JVM: this test scores in the pytest worker's own process (dag.test), and a
    # JVM started inside an in-process Airflow task later hung Komoran's start in the same worker.
    # Its own pipeline name: the TSV test may have registered "reviews" assets in this worker's Airflow DB.
    pipeline = train_tsv_pipeline(tmp_path, cli_env, tokenizer="mecab", name="scored")
    assert len(_asset_events("mlflow-registry://scored-model/champion")) == 1
    config = load_config(str(pipeline))
    inbox, outbox = config.batch_dirs()
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "today.csv").write_text("id,text\n1,감동적인 영화 최고\n2,지루하고 돈 아까운 영화\n", encoding="utf-8")
    (inbox / "broken.csv").write_text("id,body\n1,본문\n", encoding="utf-8")
    (inbox / ".arriving.csv").write_text("text\n아직 쓰는 중\n", encoding="utf-8")

    monkeypatch.setenv("MLFLOW_TRACKING_URI", cli_env["MLFLOW_TRACKING_URI"])
    # make_discoverable writes os.environ itself: monkeypatch takes the variable first, so that the
    # pipeline does not stay discoverable for later tests in this worker (the DAG bag test saw it).
    monkeypatch.setenv("RNNFLOW_PIPELINES", os.environ.get("RNNFLOW_PIPELINES", ""))
    make_discoverable(str(pipeline))
    dag = batch_dag(config, source=str(pipeline.resolve()))
    first = dag.test()
    assert str(getattr(first.state, "value", first.state)) == "failed"  # broken.csv failed its task
    [scored] = outbox.glob("today.v1.*.parquet")
    frame = pd.read_parquet(scored)
    assert frame["label"].tolist() == ["긍정", "부정"] and set(frame["model_version"]) == {"1"}
    assert frame["id"].tolist() == ["1", "2"] and len(set(frame["input_digest"])) == 1
    assert (inbox / "rejected" / "broken.csv").is_file()
    assert "no text column 'text'" in (inbox / "rejected" / "broken.csv.error.txt").read_text(encoding="utf-8")
    assert (inbox / ".arriving.csv").is_file() and len(list(outbox.iterdir())) == 1
    runs = mlflow.MlflowClient().search_runs([mlflow.get_experiment_by_name("scored-model-batch").experiment_id])
    assert [(run.info.status, run.data.tags["rnnflow.dag_run_id"]) for run in runs] == [("FINISHED", first.run_id)]
    assert len(_asset_events(outbox.resolve().as_uri())) == 1

    second = dag.test()  # the same champion, nothing new: nothing is scored twice
    assert str(getattr(second.state, "value", second.state)) == "success"
    assert len(list(outbox.iterdir())) == 1 and len(mlflow.MlflowClient().search_runs(
        [runs[0].info.experiment_id])) == 1
