"""Batch scoring against a real MLflow store and registry, with a small typed pyfunc standing in
for a trained classifier (the scoring code is what is tested; real models are in the DAG tests)."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from pipeline.corpora.errors import CorpusFormatError
from pipeline.serving.batch import pending, reject, score_file, scoring_experiment

MODEL = "batch-toy"


class LengthClassifier(mlflow.pyfunc.PythonModel):
    """'long' for texts over 5 characters; raises on the text 'boom' (a model failing mid-batch)."""

    def predict(self, context, model_input: list[str], params=None) -> pd.DataFrame:
        if "boom" in model_input:
            raise RuntimeError("the model failed")
        return pd.DataFrame({"label": ["long" if len(t) > 5 else "short" for t in model_input],
                             "label_id": [int(len(t) > 5) for t in model_input],
                             "probability": [0.9] * len(model_input)})


def register_toy(versions: int = 1) -> None:
    mlflow.set_experiment("batch-toy-training")
    for _ in range(versions):
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(name="model", python_model=LengthClassifier(), pip_requirements=["mlflow"],
                                           input_example=["짧다", "이건 꽤 긴 문장이다"])
        version = mlflow.register_model(info.model_uri, MODEL)
        mlflow.MlflowClient().set_registered_model_alias(MODEL, "champion", version.version)


def batch_runs() -> list:
    experiment = mlflow.get_experiment_by_name(scoring_experiment(MODEL))
    return [] if experiment is None else mlflow.MlflowClient().search_runs([experiment.experiment_id])


def test_scores_a_labelled_csv_keeping_its_columns(mlflow_store, tmp_path):
    register_toy()
    source = tmp_path / "reviews.csv"
    source.write_text("id,text,label\n7,좋다,1\n8,정말 지루한 영화였다,0\n", encoding="utf-8")
    output = tmp_path / "out" / "scored.parquet"
    scored = score_file(MODEL, "1", source, output)
    frame = pd.read_parquet(output)
    assert list(frame.columns) == ["row", "id", "text", "input_label", "label", "label_id", "probability",
                                   "model_name", "model_version", "input_digest"]
    assert frame["row"].tolist() == [2, 3] and frame["id"].tolist() == ["7", "8"]
    assert frame["label"].tolist() == ["short", "long"] and frame["input_label"].tolist() == ["1", "0"]
    assert set(frame["model_version"]) == {"1"} and set(frame["input_digest"]) == {scored.input_digest}
    assert scored.label_counts == {"short": 1, "long": 1} and scored.rows == 2
    assert [p.name for p in output.parent.iterdir()] == ["scored.parquet"]  # no temporary file left
    [run] = batch_runs()
    assert run.info.status == "FINISHED" and run.info.run_id == scored.run_id
    assert run.data.metrics["rows"] == 2 and run.data.metrics["predicted_share.long"] == 0.5
    assert run.data.params["model_uri"] == f"models:/{MODEL}/1"
    assert run.data.params["input_sha256"] == scored.input_digest


def test_a_one_column_jsonl_needs_no_text_column_and_csv_or_jsonl_out(mlflow_store, tmp_path):
    register_toy()
    source = tmp_path / "drop.jsonl"
    lines = [json.dumps({"review": text}, ensure_ascii=False) for text in ["하나", "둘셋넷다섯여섯"]]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    score_file(MODEL, "1", source, tmp_path / "out.csv")
    assert pd.read_csv(tmp_path / "out.csv")["label"].tolist() == ["short", "long"]
    score_file(MODEL, "1", source, tmp_path / "out.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["review"] for row in rows] == ["하나", "둘셋넷다섯여섯"]


@pytest.mark.parametrize("content, message", [
    ("id,body,label\n1,좋다,1\n", r"no text column 'text'; columns are \['id', 'body', 'label'\]"),
    ("id,text\n1,좋다\n2,\n3,  \n", r"column 'text' is empty in 2 row\(s\), first at row\(s\) \[3, 4\]"),
    ("", "empty file"),
])
def test_bad_input_names_the_file_and_leaves_no_run_or_output(mlflow_store, tmp_path, content, message):
    register_toy()
    source = tmp_path / "bad.csv"
    source.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=message) as caught:
        score_file(MODEL, "1", source, tmp_path / "out.parquet")
    assert str(source) in str(caught.value)
    assert not (tmp_path / "out.parquet").exists() and batch_runs() == []


def test_a_model_that_fails_mid_batch_leaves_a_failed_run_and_no_output(mlflow_store, tmp_path):
    register_toy()
    source = tmp_path / "drop.csv"
    source.write_text("text\n좋다\nboom\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="the model failed"):
        score_file(MODEL, "1", source, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
    assert [run.info.status for run in batch_runs()] == ["FAILED"]


def test_pending_skips_done_hidden_and_partial_files_and_rescores_for_a_new_version(mlflow_store, tmp_path):
    register_toy(versions=2)
    inbox, outbox = tmp_path / "inbox", tmp_path / "predictions"
    inbox.mkdir()
    (inbox / "a.csv").write_text("text\n좋다\n", encoding="utf-8")
    (inbox / ".b.csv").write_text("text\n쓰는 중\n", encoding="utf-8")
    (inbox / "c.csv.part").write_text("text\n쓰는 중\n", encoding="utf-8")
    (inbox / "notes.md").write_text("not a table\n", encoding="utf-8")
    [work] = pending(inbox, outbox, "1")
    assert work["input"] == str(inbox / "a.csv")
    score_file(MODEL, "1", inbox / "a.csv", work["output"])
    assert pending(inbox, outbox, "1") == []          # a rerun with the same champion does nothing
    [again] = pending(inbox, outbox, "2")            # a new champion scores the inbox again
    assert again["output"] != work["output"] and ".v2." in again["output"]
    (inbox / "a.csv").write_text("text\n바뀐 내용\n", encoding="utf-8")  # new content, same name: new digest
    assert len(pending(inbox, outbox, "1")) == 1


def test_a_rejected_file_moves_aside_with_its_reason(tmp_path):
    (tmp_path / "bad.csv").write_text("x\n", encoding="utf-8")
    moved = reject(tmp_path / "bad.csv", "bad.csv: no text column")
    assert moved == tmp_path / "rejected" / "bad.csv" and moved.is_file() and not (tmp_path / "bad.csv").exists()
    assert (tmp_path / "rejected" / "bad.csv.error.txt").read_text(encoding="utf-8") == "bad.csv: no text column\n"


def test_rnnflow_predict_scores_a_file_from_the_shell(mlflow_store, tmp_path, capsys):
    from pipeline.cli import main

    register_toy()
    source = tmp_path / "drop.tsv"
    source.write_text("review\tstars\n정말 재미있는 영화\t5\n별로\t1\n", encoding="utf-8")
    output = tmp_path / "predictions.parquet"
    assert main(["predict", MODEL, "--input", str(source), "--output", str(output), "--text-column", "review"]) == 0
    printed = capsys.readouterr().out
    assert f"scored 2 rows of {source} with {MODEL} version 1 (@champion)" in printed and "long 1, short 1" in printed
    assert pd.read_parquet(output)["label"].tolist() == ["long", "short"]
    assert main(["predict", "no-such-model", "--input", str(source), "--output", str(output)]) == 2
    assert f"registered models: ['{MODEL}']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["predict", MODEL, "좋다", "--input", str(source), "--output", str(output)])
