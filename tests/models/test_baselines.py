import numpy as np
import pytest

from models.registry import BASELINE_BUILDERS, build_baseline, build_model
from pipeline.config import ModelConfig

TOKENS = ["영화 최고 재밌 다", "정말 최고 감동", "지루 하 다 최악", "돈 아깝 다 최악"] * 3
LABELS = np.array([1, 1, 0, 0] * 3)


@pytest.mark.parametrize("name", BASELINE_BUILDERS)
def test_baseline_learns_tokens_and_gives_probabilities(name):
    baseline = build_baseline(name, ModelConfig(baseline_min_df=1, logreg_c=10.0))
    baseline.fit(TOKENS, LABELS)
    probabilities = baseline.predict_proba(["최고 감동", "최악 지루"])
    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities.argmax(axis=1).tolist() == [1, 0]


def test_vectorizer_uses_the_pipeline_tokens_and_bigrams():
    baseline = build_baseline("tfidf_nb", ModelConfig(baseline_min_df=1)).fit(TOKENS, LABELS)
    vocabulary = baseline.named_steps["tfidf"].vocabulary_
    assert "하" in vocabulary and "돈 아깝" in vocabulary


def test_builders_refuse_the_wrong_kind():
    with pytest.raises(KeyError, match="scikit-learn baseline"):
        build_model("tfidf_nb", ModelConfig(), vocab_size=10)
    with pytest.raises(KeyError, match="not a baseline"):
        build_baseline("lstm", ModelConfig())
