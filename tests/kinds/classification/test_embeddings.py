import numpy as np
import pytest

from pipeline.config import ConfigError
from pipeline.kinds.classification.embeddings import (
    RANDOM_SCALE,
    aligned_matrix,
    initial_embedding,
    read_vectors_file,
    train_corpus_vectors,
)
from pipeline.stages.ingest import run_ingest
from pipeline.stages.preprocess import run_preprocess

SENTENCES = [["영화", "정말", "재밌", "다"], ["배우", "연기", "최고"], ["지루", "하", "다", "최악"]] * 40


def _with(config, overrides: dict):
    from pipeline.config import apply_overrides, validate_config

    return validate_config(apply_overrides(config.to_dict(), overrides))


def _vectors_file(path, rows: dict[str, list[float]]):
    dim = len(next(iter(rows.values())))
    lines = [f"{len(rows)} {dim}", *(f"{word} {' '.join(str(v) for v in vector)}" for word, vector in rows.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_known_words_get_their_vectors_others_start_random_padding_zero(tmp_path):
    path = _vectors_file(tmp_path / "v.txt", {"영화": [1.0, 2.0, 3.0], "최고": [-1.0, 0.5, 0.0]})
    vectors = read_vectors_file(path, 3)
    tokens = ["<pad>", "<unk>", "영화", "없는말", "최고"]
    matrix, coverage = aligned_matrix(tokens, vectors, 3, seed=0)
    assert matrix.shape == (5, 3) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[0], 0.0)
    np.testing.assert_allclose(matrix[2], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(matrix[4], [-1.0, 0.5, 0.0])
    assert np.all(np.abs(matrix[[1, 3]]) <= RANDOM_SCALE) and np.any(matrix[3] != 0)
    assert coverage == pytest.approx(2 / 3)


def test_corpus_vectors_are_the_same_for_the_same_seed_and_differ_for_another():
    first = train_corpus_vectors("word2vec", SENTENCES, 8, seed=1)
    again = train_corpus_vectors("word2vec", SENTENCES, 8, seed=1)
    other = train_corpus_vectors("word2vec", SENTENCES, 8, seed=2)
    np.testing.assert_array_equal(first["영화"], again["영화"])
    assert not np.allclose(first["영화"], other["영화"])
    assert first.vector_size == 8 and set(first.key_to_index) == {t for s in SENTENCES for t in s}


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("2 3\n영화 1 2 3\n최고 1 2 3\n", "has 3-dimensional vectors; model.embedding_dim is 4: set it to 3"),
    ("this is not\na vectors file\n", "not a word2vec-format vectors file"),
])
def test_a_bad_vectors_file_is_one_config_error_naming_it(tmp_path, content, message):
    path = tmp_path / "vectors.txt"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="model.embedding_vectors_path") as raised:
        read_vectors_file(path, 4)
    assert str(path) in str(raised.value) and message in str(raised.value)


def test_the_file_setting_needs_its_path_and_only_it():
    from pydantic import ValidationError

    from models.config import ModelConfig

    with pytest.raises(ValidationError, match="embedding_vectors_path is needed with embedding_init: file"):
        ModelConfig(embedding_init="file")
    with pytest.raises(ValidationError, match="embedding_vectors_path is needed"):
        ModelConfig(embedding_init="word2vec", embedding_vectors_path="v.txt")


@pytest.mark.parametrize("method", ["word2vec", "fasttext"])
def test_vectors_trained_on_the_train_split_are_cached_by_features(small_config, method):
    config = _with(small_config, {"model.embedding_init": method, "model.embedding_algorithm": "skip_gram"})
    prepared = run_preprocess(config, run_ingest(config))
    first = initial_embedding(config, prepared.features_dir)
    assert first.matrix.shape == (prepared.vocab_size, config.model.embedding_dim)
    # The vocabulary is fit on the train split with min_freq, the vectors on every train token.
    assert first.coverage == 1.0 and first.path.is_file() and first.seconds > 0
    np.testing.assert_array_equal(first.matrix[0], 0.0)
    again = initial_embedding(config, prepared.features_dir)
    assert again.seconds == 0.0 and again.path == first.path
    np.testing.assert_array_equal(again.matrix, first.matrix)
    other_seed = initial_embedding(_with(config, {"train.seed": 7}), prepared.features_dir)
    assert other_seed.path != first.path
    cbow = initial_embedding(_with(config, {"model.embedding_algorithm": "cbow"}), prepared.features_dir)
    assert cbow.path != first.path and cbow.seconds > 0 and not np.allclose(cbow.matrix, first.matrix)
    assert first.source == f"{method} (skip-gram) trained on the train split's tokens"
    assert cbow.source == f"{method} (cbow) trained on the train split's tokens"


def test_cbow_and_skip_gram_learn_different_vectors_each_reproducible():
    skip_gram = train_corpus_vectors("word2vec", SENTENCES, 8, seed=1, algorithm="skip_gram")
    cbow = train_corpus_vectors("word2vec", SENTENCES, 8, seed=1, algorithm="cbow")
    again = train_corpus_vectors("word2vec", SENTENCES, 8, seed=1, algorithm="cbow")
    np.testing.assert_array_equal(cbow["영화"], again["영화"])
    assert not np.allclose(cbow["영화"], skip_gram["영화"])


def test_an_unknown_embedding_algorithm_is_a_validation_error_naming_the_choices():
    from pydantic import ValidationError

    from models.config import ModelConfig

    with pytest.raises(ValidationError, match="embedding_algorithm") as raised:
        ModelConfig(embedding_algorithm="glove")
    assert "skip_gram" in str(raised.value) and "cbow" in str(raised.value)


def test_random_init_means_no_initial_weights(small_config):
    assert initial_embedding(_with(small_config, {"model.embedding_init": "random"}), "unused") is None


def test_a_vectors_file_starts_the_pieces_that_spell_whole_words(small_config, tmp_path):
    """On subword pieces a word vector goes to the word-start piece spelling that whole word."""
    from pipeline.kinds.classification.embeddings import vocab_tokens

    config = _with(small_config, {"text.subword_vocab_size": 150})
    prepared = run_preprocess(config, run_ingest(config))
    tokens = vocab_tokens(prepared.features_dir)
    whole = next(token for token in tokens[2:] if token.startswith("▁") and len(token) > 2)
    inner = next(token for token in tokens[2:] if not token.startswith("▁"))
    dim = config.model.embedding_dim
    path = _vectors_file(tmp_path / "v.txt", {whole[1:]: [0.5] * dim, inner: [0.25] * dim})
    initial = initial_embedding(_with(config, {"model.embedding_init": "file",
                                               "model.embedding_vectors_path": str(path)}), prepared.features_dir)
    np.testing.assert_allclose(initial.matrix[tokens.index(whole)], 0.5)
    # A piece inside a word is not the word it happens to spell.
    assert np.all(np.abs(initial.matrix[tokens.index(inner)]) <= RANDOM_SCALE)
    assert initial.coverage == pytest.approx(1 / (len(tokens) - 2))
