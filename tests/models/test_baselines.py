import numpy as np
import pytest

from models.registry import architectures, build_baseline, build_classifier
from models.config import ModelConfig

TOKENS = ["영화 최고 재밌 다", "정말 최고 감동", "지루 하 다 최악", "돈 아깝 다 최악"] * 3
LABELS = np.array([1, 1, 0, 0] * 3)


@pytest.mark.parametrize("name", architectures("baselines"))
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
    with pytest.raises(KeyError, match="'tfidf_nb' is one of the baselines, not the classifiers"):
        build_classifier("tfidf_nb", ModelConfig(), vocab_size=10)
    with pytest.raises(KeyError, match="'lstm' is one of the classifiers, not the baselines"):
        build_baseline("lstm", ModelConfig())


def test_registry_lists_builders_by_file_without_importing_them():
    import subprocess
    import sys

    code = ("import sys; from models.registry import architectures; print(architectures()); "
            "print(sorted(m for m in ('keras', 'tensorflow', 'sklearn') if m in sys.modules))")
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert "'lstm'" in lines[0] and "'tfidf_logreg'" in lines[0] and "'seq2seq_luong'" in lines[0]
    assert lines[1] == "[]"
