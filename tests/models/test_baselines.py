import numpy as np
import pytest

from models.config import ModelConfig
from models.registry import architectures, build_baseline, build_classifier

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


def _order_matters(rows: int, seed: int):
    """Texts whose label is the order of two words: the same unigrams in both classes, so only a
    model with bigrams can tell them apart."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(30)]
    texts, labels = [], []
    for _ in range(rows):
        filler = " ".join(rng.choice(words, 3))
        label = int(rng.integers(0, 2))
        texts.append(f"{filler} {'좋 지' if label else '지 좋'} {filler}")
        labels.append(label)
    return texts, np.array(labels)


@pytest.mark.parametrize("name", architectures("baselines"))
def test_the_validation_split_chooses_ngrams_and_regularization(name):
    from models.registry import baseline_regularization
    from pipeline.kinds.classification.training import search_baseline

    field = baseline_regularization(name)
    config = ModelConfig(baseline_min_df=1, baseline_max_ngram=1, baseline_max_ngram_grid=(1, 2),
                         **{f"{field}_grid": (0.01, 1.0, 100.0)})
    baseline, selected, candidates = search_baseline(name, config, 2, "accuracy", _order_matters(400, 0),
                                                     _order_matters(200, 1))
    # 2 n-gram lengths x the grid and the configured value (1.0, also in the grid): 2 x 3 fits.
    assert [(c["baseline_max_ngram"], c[field]) for c in candidates] == [
        (1, 0.01), (1, 1.0), (1, 100.0), (2, 0.01), (2, 1.0), (2, 100.0)]
    unigram_best = max(c["valid_accuracy"] for c in candidates if c["baseline_max_ngram"] == 1)
    bigram_best = max(c["valid_accuracy"] for c in candidates if c["baseline_max_ngram"] == 2)
    assert unigram_best < 0.7 < 0.95 < bigram_best  # word order is invisible to unigrams
    winner = next(c for c in candidates if c["valid_accuracy"] == bigram_best)  # the first of a tie
    assert selected == {"baseline_max_ngram": 2, field: winner[field]}
    texts, labels = _order_matters(100, 2)
    assert (baseline.predict(texts) == labels).mean() > 0.95  # the returned pipeline is the fitted winner


def test_the_regularization_walk_stops_two_values_past_the_best(monkeypatch):
    """Validation scores that peak at the second value (a tie is no better): the two values after
    it are fit, the rest of the grid is not."""
    from pipeline.kinds.classification.training import search_baseline

    grid = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
    scores = iter([0.6, 0.9, 0.8, 0.9, 0.95, 0.99])  # one per fit, in the walk's (ascending) order
    monkeypatch.setattr("pipeline.kinds.classification.metrics.classification_metrics",
                        lambda *args: {"accuracy": next(scores)})
    config = ModelConfig(baseline_min_df=1, baseline_max_ngram=1, baseline_max_ngram_grid=(), logreg_c=1.0,
                         logreg_c_grid=grid)
    _, selected, candidates = search_baseline("tfidf_logreg", config, 2, "accuracy", _order_matters(100, 0),
                                              _order_matters(50, 1))
    assert [c["logreg_c"] for c in candidates] == [0.1, 1.0, 10.0, 100.0]
    assert [c["valid_accuracy"] for c in candidates] == [0.6, 0.9, 0.8, 0.9]
    assert selected == {"baseline_max_ngram": 1, "logreg_c": 1.0}


def test_without_validation_rows_the_configured_values_are_used():
    from pipeline.kinds.classification.training import search_baseline

    config = ModelConfig(baseline_min_df=1, baseline_max_ngram=2, logreg_c=3.0)
    empty = ([], np.array([], dtype=np.int64))
    baseline, selected, candidates = search_baseline("tfidf_logreg", config, 2, "accuracy",
                                                     (TOKENS, LABELS), empty)
    assert selected == {"baseline_max_ngram": 2, "logreg_c": 3.0}
    assert len(candidates) == 1 and candidates[0]["valid_accuracy"] is None
    assert baseline.named_steps["classifier"].C == 3.0


def test_a_grid_value_out_of_range_is_refused():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="logreg_c_grid.1"):
        ModelConfig(logreg_c_grid=(1.0, 0.0))
