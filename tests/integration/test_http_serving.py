"""`rnnflow serve` starts the real MLflow scoring server on 127.0.0.1 for a registered raw-text
model; requests in every documented shape get the right answer, bad ones a clear 4xx."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import mlflow
import pytest

from tests.conftest import PROJECT_ROOT
from tests.services import ProcessGroup, free_port, http_ok, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("services")]


def _post(port: int, body: bytes | str, content_type: str = "application/json") -> tuple[int, dict | str]:
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=data,
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def _ping(port: int) -> bool:
    return http_ok(f"http://127.0.0.1:{port}/ping")


def test_serve_answers_every_input_shape(small_config, mlflow_store, tmp_path):
    from pipeline.orchestration import tasks

    overrides = [f"data_root={tmp_path / 'data'}", f"corpus.source={small_config.corpus.source}",
                 "text.workers=1", "train.models=[tfidf_nb]", "model.baseline_min_df=1",
                 "registry.model_name=served", "tracking.experiment=served"]
    run = tasks.start_run("nsmc", {"overrides": overrides}, "nsmc_sentiment", "http-test")
    prepared = tasks.preprocess(run, tasks.ingest(run))
    registered = tasks.register(run, prepared, [tasks.evaluate(run, prepared, tasks.train(run, prepared, "tfidf_nb"))])
    assert registered["alias"] == "champion"

    port = free_port()
    group = ProcessGroup(tmp_path)
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store}
    # From the README's environment: the venv's bin is NOT on PATH; `rnnflow serve` must cope.
    env["PATH"] = "/usr/bin:/bin"
    group.start("serve", [str(PROJECT_ROOT / ".venv" / "bin" / "rnnflow"), "serve", "served@champion",
                          "--port", str(port)], env, cwd=tmp_path)
    try:
        wait_for(lambda: _ping(port), 300, "the scoring server to answer /ping", group)
        texts = ["정말 재밌어요 최고", "너무 지루했다 최악"]
        status, answer = _post(port, json.dumps({"inputs": texts}, ensure_ascii=False))
        assert status == 200, answer
        predictions = answer["predictions"]
        assert [set(row) for row in predictions] == [{"label", "label_id", "probability", "known_tokens"}] * 2
        assert all(row["known_tokens"] > 0 for row in predictions)
        assert all(row["label"] in {"negative", "positive"} for row in predictions)
        with_params = {"inputs": texts, "params": {"return_attention": False}}
        assert _post(port, json.dumps(with_params, ensure_ascii=False)) == (200, answer)
        # The typed model takes `inputs` only; the DataFrame shapes get a 400 that says so.
        split = {"columns": ["text"], "data": [[text] for text in texts]}
        for body in ({"dataframe_split": split}, {"dataframe_records": [{"text": t} for t in texts]}):
            status, refused = _post(port, json.dumps(body, ensure_ascii=False))
            assert status == 400 and "'inputs' key" in refused and "Traceback" not in refused, refused
        local = mlflow.pyfunc.load_model("models:/served@champion").predict(texts)
        assert [row["label"] for row in predictions] == local["label"].tolist()

        # An empty batch is an empty answer; non-text is refused by the typed input, naming the elements.
        status, answer = _post(port, json.dumps({"inputs": []}))
        assert (status, answer) == (200, {"predictions": []})
        status, answer = _post(port, json.dumps({"inputs": [1, "좋다"]}))
        assert status == 400 and "Expected type str, but got int" in answer and "Traceback" not in answer, answer
        status, answer = _post(port, json.dumps({"inputs": ["재밌다 " * 20000]}))  # 100,000 characters
        assert status == 200 and len(answer["predictions"]) == 1
        # Texts with no known word are answered, and flagged: known_tokens 0.
        status, answer = _post(port, json.dumps({"inputs": ["", "😀😀😀", "정말 재밌어요"]}, ensure_ascii=False))
        assert status == 200 and [row["known_tokens"] for row in answer["predictions"]][:2] == [0, 0], answer
        assert answer["predictions"][2]["known_tokens"] > 0
        # A param the model cannot honour, nulls, nested lists: one-message 400s, no server stack trace.
        for body in ({"inputs": texts, "params": {"return_attention": True}}, {"inputs": [None]},
                     {"inputs": [["중첩"]]}):
            status, refused = _post(port, json.dumps(body, ensure_ascii=False))
            assert status == 400 and "stack_trace" not in refused and "Traceback" not in refused, (body, refused)
        assert "bag-of-words baseline or an ensemble; it has no single attention" in _post(port, json.dumps(
            {"inputs": texts, "params": {"return_attention": True}}))[1]
        status, answer = _post(port, '{"inputs": ["unterminated"')
        assert 400 <= status < 500, (status, answer)
        status, answer = _post(port, json.dumps({"instances_of_nothing": 1}))
        assert 400 <= status < 500, (status, answer)
    finally:
        leftovers = group.stop()
    assert leftovers == []
