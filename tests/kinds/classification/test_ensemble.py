"""Choosing an ensemble on the validation split, and the ensemble's raw-text pyfunc."""

import numpy as np
import pytest

from pipeline.kinds import ServingParts
from pipeline.kinds.classification.ensemble import choose_members
from pipeline.kinds.classification.features import VOCAB_FILE, split_tokens
from pipeline.kinds.classification.serving import (
    OUTPUT_COLUMNS,
    SERVING_PARAMS,
    RawTextClassifier,
)
from pipeline.results import TEXT_SPEC_FILE
from pipeline.stages.ingest import run_ingest
from pipeline.stages.preprocess import run_preprocess


def _probabilities(y: np.ndarray, right: np.ndarray, confidence: float = 0.9) -> np.ndarray:
    """Two-class probabilities that favour the true class where ``right``, the other class elsewhere."""
    positive = np.where(right, np.where(y == 1, confidence, 1 - confidence), np.where(y == 1, 0.4, 0.6))
    return np.column_stack([1 - positive, positive])


def test_the_members_are_the_subset_that_scores_best_on_validation():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    # a and b are each right on 70% of rows, confidently, and wrong (hesitantly) on different rows:
    # their average is right wherever either is; c is a weaker copy of a and adds nothing.
    a_right = rng.random(3000) < 0.7
    b_right = ~a_right | (rng.random(3000) < 0.4)
    valid = {"a": _probabilities(y, a_right), "b": _probabilities(y, b_right),
             "c": _probabilities(y, a_right & (rng.random(3000) < 0.9), confidence=0.55)}
    members, score = choose_members(valid, y, "accuracy", 2, max_members=3)
    assert members == ["a", "b"] or members == ["b", "a"]
    averaged = (valid["a"] + valid["b"]) / 2
    assert score == pytest.approx((averaged.argmax(axis=1) == y).mean())
    assert score > max((p.argmax(axis=1) == y).mean() for p in valid.values())


def test_a_tie_keeps_the_smaller_ensemble_and_the_size_limit_holds():
    y = np.array([0, 1, 1, 0])
    same = np.array([[0.8, 0.2], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4]])
    valid = {name: same for name in ("a", "b", "c", "d")}
    members, score = choose_members(valid, y, "accuracy", 2, max_members=4)
    assert len(members) == 2 and score == 1.0
    assert len(choose_members(valid, y, "macro_f1", 2, max_members=2)[0]) == 2


def test_a_tie_on_the_metric_goes_to_the_lower_validation_log_loss():
    """a+b and a+b+c are right on the same rows; c makes the trio more confident where it is right."""
    y = np.array([0, 1, 1, 0, 1])
    a = np.array([[0.6, 0.4], [0.4, 0.6], [0.45, 0.55], [0.55, 0.45], [0.6, 0.4]])
    b = np.array([[0.7, 0.3], [0.3, 0.7], [0.4, 0.6], [0.6, 0.4], [0.7, 0.3]])
    c = np.array([[0.95, 0.05], [0.05, 0.95], [0.1, 0.9], [0.9, 0.1], [0.6, 0.4]])
    valid = {"a": a, "b": b, "c": c}
    for pair in (("a", "b"), ("a", "c"), ("b", "c"), ("a", "b", "c")):
        assert (np.mean([valid[name] for name in pair], axis=0).argmax(axis=1) == y).mean() == 0.8
    members, score = choose_members(valid, y, "accuracy", 2, max_members=3)
    assert sorted(members) == ["b", "c"] and score == 0.8  # the most confident pair where right


def test_the_ensemble_pyfunc_averages_its_members_probabilities(small_config, tmp_path):
    """A Keras model and a scikit-learn baseline behind one text processor, saved and loaded
    through MLflow: each text's probability is the mean of the two members' probabilities."""
    import keras
    import mlflow.pyfunc
    import mlflow.sklearn

    from models.registry import build_baseline, build_classifier
    from models.text_classifier import LengthBuckets, class_probabilities

    prepared = run_preprocess(small_config, run_ingest(small_config))
    keras.utils.set_random_seed(0)
    network = build_classifier("gru", small_config.model, prepared.vocab_size, prepared.num_classes)
    network.save(tmp_path / "gru.keras")
    with np.load(prepared.path("features.npz")) as arrays:
        y_train = arrays["y_train"]
    baseline = build_baseline("tfidf_nb", small_config.model.model_copy(update={"baseline_min_df": 1}))
    baseline.fit(split_tokens(prepared.features_dir, "train"), y_train)
    mlflow.sklearn.save_model(baseline, tmp_path / "nb", serialization_format="cloudpickle")  # as fit_baseline
    features = prepared.features_dir
    artifacts = {"member_0_keras_model": str(tmp_path / "gru.keras"), "member_1_sklearn_model": str(tmp_path / "nb"),
                 "text_spec": f"{features}/{TEXT_SPEC_FILE}", "vocab": f"{features}/{VOCAB_FILE}"}
    parts = ServingParts(RawTextClassifier(), artifacts, SERVING_PARAMS, OUTPUT_COLUMNS, ["좋은 영화", "나쁜 영화"])
    mlflow.pyfunc.save_model(tmp_path / "pyfunc", python_model=parts.python_model, artifacts=artifacts,
                             pip_requirements=["mlflow"], **parts.typed_example())

    texts = ["정말 최고의 영화", "최악이다 지루해", "", "배우 연기 좋다"]
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "pyfunc"))
    answer = loaded.predict(texts)
    inner = loaded.unwrap_python_model()
    assert [flavor for flavor, _ in inner.members] == ["keras", "sklearn"] and inner.keras_model is None
    token_lists = inner.tokens(texts)
    expected = (class_probabilities(LengthBuckets(network)(inner.ids_of(token_lists)))
                + baseline.predict_proba([" ".join(tokens) for tokens in token_lists])) / 2
    assert answer["label_id"].tolist() == expected.argmax(axis=1).tolist()
    np.testing.assert_allclose(answer["probability"], expected.max(axis=1), rtol=1e-5)
    with pytest.raises(ValueError, match="no single attention"):
        loaded.predict(texts, params={"return_attention": True})
