"""The translation DAG end to end on generated AI Hub .xlsx files: real Airflow, Keras, MLflow registry."""

import json
import os
import subprocess
import sys

import mlflow
import pytest

from tests.corpora.test_parallel import _workbook

pytestmark = pytest.mark.slow

KO_EN = [("나는 사과를 먹었다", "i ate an apple"), ("그는 학교에 간다", "he goes to school"),
         ("우리는 영화를 봤다", "we watched a movie"), ("고양이가 잔다", "the cat sleeps"),
         ("비가 온다", "it is raining"), ("그녀는 책을 읽는다", "she reads a book")]


@pytest.fixture
def aihub_folder(tmp_path):
    folder = tmp_path / "aihub"
    folder.mkdir()
    rows = [[i, f"{ko} {i % 7}번", f"{en} number {i % 7} ."] for i, (ko, en) in enumerate(KO_EN * 12)]
    _workbook(folder / "1_구어체(1)_200226.xlsx", ["SID", "원문", "번역문"], rows[:40])
    _workbook(folder / "2_대화체.xlsx", ["SID", "원문", "번역문", None], [[*row, "x"] for row in rows[40:]])
    return folder


def test_translation_dag_registers_a_raw_text_translator(airflow_db, mlflow_store, aihub_folder, tmp_path):
    from pipeline.cli.airflow_runs import load_dag

    overrides = [f"data_root={tmp_path / 'data'}", f"corpus.source={aihub_folder}", "text.workers=1",
                 "train.epochs=2", "train.batch_size=16", "model.units=8", "model.embedding_dim=8",
                 "corpus.valid_fraction=0.1", "corpus.test_fraction=0.2", "text.min_freq=1", "target_text.min_freq=1",
                 "train.models=[seq2seq, seq2seq_bahdanau]", "decode.beam_width=3", "tracking.experiment=mt-test",
                 # English as subword pieces: the served translator must join them back into words.
                 "target_text.subword_vocab_size=40"]
    dag_run = load_dag("aihub_translation").test(run_conf={"overrides": overrides})
    assert str(getattr(dag_run.state, "value", dag_run.state)) == "success"
    client = mlflow.MlflowClient()
    children = client.search_runs([client.get_experiment_by_name("mt-test").experiment_id],
                                  filter_string="tags.`rnnflow.role` = 'child'")
    assert {run.data.tags["rnnflow.arch"] for run in children} == {"seq2seq", "seq2seq_bahdanau"}
    for run in children:
        assert {"test_bleu_greedy", "test_bleu_beam", "test_chrf_greedy", "test_chrf_beam", "test_bleu"} \
            <= set(run.data.metrics)
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
        assert "evaluation/sample_translations.json" in artifacts
    [attention_run] = [r for r in children if r.data.tags["rnnflow.arch"] == "seq2seq_bahdanau"]
    artifacts = {a.path for a in client.list_artifacts(attention_run.info.run_id, "evaluation")}
    assert {"evaluation/alignment_heatmap.png", "evaluation/alignments.json"} <= artifacts
    [version] = client.search_model_versions("name = 'koen-translator'")
    # Unset params take the signature's defaults: they must be the run's decode settings (beam 3 here).
    params = {p.name: p.default for p in mlflow.models.get_model_info(
        "models:/koen-translator@champion").signature.params.params}
    assert params["beam_width"] == 3 and params["length_penalty"] == 1.0
    assert str(client.get_model_version_by_alias("koen-translator", "champion").version) == str(version.version)

    # Lineage resolves every link of a translator, a tokenizer for each side included.
    from pipeline.tracking.trace import trace_version

    trace = trace_version(client, "koen-translator@champion")
    assert trace.complete, trace.render()
    assert [link.name for link in trace.links][-3:] == ["source tokenizer", "target tokenizer", "code"]
    assert "mecab" in trace.render()

    # A fresh process loads the champion and translates raw Korean, greedy and with a beam.
    code = ("import json, mlflow.pyfunc; m = mlflow.pyfunc.load_model('models:/koen-translator@champion'); "
            "g = m.predict(['나는 사과를 먹었다', '비가 온다'], params={'beam_width': 1}); "
            "b = m.predict(['나는 사과를 먹었다', '비가 온다'], params={'beam_width': 3, 'return_attention': True}); "
            "print(json.dumps({'greedy': g['translation'].tolist(), 'beam': b['translation'].tolist(), "
            "'attention': b['attention'].tolist()}, ensure_ascii=False))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_store}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(out["greedy"]) == len(out["beam"]) == 2 and all(isinstance(t, str) for t in out["beam"])
    assert not any("▁" in text for text in out["greedy"] + out["beam"]), out
    assert out["attention"][0]["source_tokens"][:2] == ["나", "는"]
