"""The raw-text pyfunc, saved and loaded through MLflow for real (no registry needed)."""

import json
import subprocess
import sys

import mlflow.pyfunc
import numpy as np
import pytest

from pipeline.kinds import ServingParts
from pipeline.kinds.classification.features import VOCAB_FILE
from pipeline.kinds.classification.serving import (
    OUTPUT_COLUMNS,
    SERVING_PARAMS,
    RawTextClassifier,
)
from pipeline.results import TEXT_SPEC_FILE
from pipeline.serving.inputs import as_texts
from pipeline.stages.ingest import run_ingest
from pipeline.stages.preprocess import run_preprocess


@pytest.fixture
def attention_pyfunc(small_config, tmp_path):
    from models.registry import build_classifier

    ingested = run_ingest(small_config)
    prepared = run_preprocess(small_config, ingested)
    model = build_classifier("bilstm_attention", small_config.model, prepared.vocab_size, prepared.num_classes)
    model.save(tmp_path / "model.keras")
    features = prepared.features_dir
    artifacts = {"keras_model": str(tmp_path / "model.keras"),
                 "text_spec": f"{features}/{TEXT_SPEC_FILE}", "vocab": f"{features}/{VOCAB_FILE}"}
    parts = ServingParts(RawTextClassifier(), artifacts, SERVING_PARAMS, OUTPUT_COLUMNS, ["좋은 영화", "나쁜 영화"])
    mlflow.pyfunc.save_model(tmp_path / "pyfunc", python_model=parts.python_model, artifacts=artifacts,
                             pip_requirements=["mlflow"],  # given: no subprocess to infer them
                             **parts.typed_example())
    return tmp_path / "pyfunc", prepared


@pytest.mark.slow  # a fresh Python process imports TensorFlow and loads the model: about 20 s
def test_attention_model_returns_weights_per_token_when_asked(attention_pyfunc, tmp_path):
    """In a fresh process, as a server loads it: the custom attention layer must load there too."""
    path, prepared = attention_pyfunc
    code = ("import json, sys, mlflow.pyfunc; m = mlflow.pyfunc.load_model(sys.argv[1]); "
            "texts = ['이 영화 정말 재밌어요', '지루하고 최악이었다 ' * 40]; "
            "plain = m.predict(texts); inspected = m.predict(texts, params={'return_attention': True}); "
            "print(json.dumps({'columns': list(plain.columns), 'plain': plain['probability'].tolist(), "
            "'inspected': inspected['probability'].tolist(), 'attention': inspected['attention'].tolist()}, "
            "ensure_ascii=False))")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["columns"] == ["label", "label_id", "probability", "known_tokens"]
    np.testing.assert_allclose(out["inspected"], out["plain"], rtol=1e-5)
    first, long = out["attention"]
    assert [token for token, _ in first][:2] == ["이", "영화"]
    assert sum(weight for _, weight in first) == pytest.approx(1.0, abs=1e-4)
    # A long text is cut to the model's length from the start: its weights cover the last tokens.
    assert len(long) == prepared.max_len
    assert sum(weight for _, weight in long) == pytest.approx(1.0, abs=1e-4)


def test_as_texts_names_the_bad_row():
    assert as_texts("하나") == ["하나"]
    with pytest.raises(ValueError, match="input row 1: expected a string"):
        as_texts(["좋다", 3])


def test_the_logged_model_declares_typed_inputs_params_and_outputs(attention_pyfunc):
    """MLflow takes the input schema from the ``list[str]`` hint and refuses non-text before the model
    runs; the params and their defaults come from the logged example."""
    from mlflow.exceptions import MlflowException

    path, _ = attention_pyfunc
    model = mlflow.pyfunc.load_model(str(path))
    signature = model.metadata.signature
    assert signature.inputs.to_dict() == [{"type": "string", "required": True}]
    assert {p.name: p.default for p in signature.params.params} == {"return_attention": False}
    assert model.metadata.metadata["rnnflow_output_columns"]["label"] == "string"
    assert (model.metadata.saved_input_example_info or {}).get("artifact_path")  # the example is kept
    with pytest.raises(MlflowException, match="Expected type str, but got int"):
        model.predict([1, 2])
    import pandas as pd

    framed = model.predict(pd.DataFrame({"text": ["정말 재밌어요", "최악"]}))
    assert framed["label"].tolist() == model.predict(["정말 재밌어요", "최악"])["label"].tolist()
    assert model.predict([]).empty


def test_a_large_request_tokenized_by_the_pool_gets_the_same_answers(attention_pyfunc, predict_through_pool):
    path, _ = attention_pyfunc
    model = mlflow.pyfunc.load_model(str(path))
    texts = [f"정말 재밌어요 {i} 최고" if i % 3 else f"지루하고 최악 {i}" for i in range(60)]
    alone = model.predict(texts)
    pooled = predict_through_pool(model, texts)
    assert pooled["label"].tolist() == alone["label"].tolist()
    np.testing.assert_allclose(pooled["probability"], alone["probability"], rtol=1e-5)


@pytest.mark.slow  # a fresh Python process imports TensorFlow and loads the model: about 20 s
def test_a_model_pickled_under_the_old_module_paths_loads_and_predicts(small_config, tmp_path, monkeypatch):
    """Versions registered before the packages were regrouped name ``pipeline.classification.serving``."""
    from models.registry import build_classifier

    ingested = run_ingest(small_config)
    prepared = run_preprocess(small_config, ingested)
    model = build_classifier("lstm", small_config.model, prepared.vocab_size, prepared.num_classes)
    model.save(tmp_path / "model.keras")
    features = prepared.features_dir
    artifacts = {"keras_model": str(tmp_path / "model.keras"),
                 "text_spec": f"{features}/{TEXT_SPEC_FILE}", "vocab": f"{features}/{VOCAB_FILE}"}
    import pipeline.classification.serving  # noqa: F401  (the old path, answered by pipeline.legacy)

    monkeypatch.setattr(RawTextClassifier, "__module__", "pipeline.classification.serving")
    mlflow.pyfunc.save_model(tmp_path / "pyfunc", python_model=RawTextClassifier(), artifacts=artifacts,
                             pip_requirements=["mlflow"])
    monkeypatch.undo()
    assert b"pipeline.classification.serving" in (tmp_path / "pyfunc" / "python_model.pkl").read_bytes()
    # As `rnnflow predict` and batch scoring load it: today's package is imported first.
    code = ("import json, sys, pipeline.kinds.classification.serving as today, mlflow.pyfunc; "
            "m = mlflow.pyfunc.load_model(sys.argv[1]); "
            "print(json.dumps({'same_class': type(m.unwrap_python_model()) is today.RawTextClassifier, "
            "'labels': m.predict(['정말 재밌어요', '최악'])['label'].tolist()}))")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "pyfunc")], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["same_class"] is True and len(out["labels"]) == 2


def test_old_module_paths_are_todays_modules():
    import pipeline.classification.serving as old
    import pipeline.kinds.classification.serving as today
    from pipeline.legacy import current_name

    assert old is today and old.RawTextClassifier is today.RawTextClassifier
    assert current_name("pipeline.translation.serving") == "pipeline.kinds.translation.serving"
    assert current_name("pipeline.kinds.translation.serving") is None
