"""text.subword_vocab_size for a classifier: sentencepiece pieces learned on the train split are the
model's tokens, in training and in the served raw-text model alike."""

from pathlib import Path
from types import SimpleNamespace

import mlflow.pyfunc
import numpy as np
import pytest

from pipeline.config import ConfigError, load_config
from pipeline.kinds.classification.features import (
    SUBWORD_FILE,
    split_texts,
    split_tokens,
)
from pipeline.results import FEATURES_FILE, TEXT_SPEC_FILE
from pipeline.stages.ingest import run_ingest
from pipeline.stages.preprocess import run_preprocess
from pipeline.text.spec import TextSpec

PIECES = 150


@pytest.fixture
def piece_features(small_config):
    config = small_config.with_values({"text.subword_vocab_size": PIECES})
    words = small_config.with_values({"text.subword_vocab_size": None})
    ingested = run_ingest(config)
    return config, run_preprocess(config, ingested), run_preprocess(words, ingested)


def test_pieces_are_learned_on_train_and_join_back_to_the_words(piece_features):
    _, pieces, words = piece_features
    assert pieces.features_dir != words.features_dir  # the setting is part of the features' key
    assert (Path(pieces.features_dir) / SUBWORD_FILE).is_file()
    assert not (Path(words.features_dir) / SUBWORD_FILE).exists()
    for split in ("train", "test"):
        piece_rows, word_rows = split_tokens(pieces.features_dir, split), split_tokens(words.features_dir, split)
        assert [row.replace(" ", "").replace("▁", "") for row in piece_rows] == \
               [row.replace(" ", "") for row in word_rows]
    assert any("▁" in row for row in split_tokens(pieces.features_dir, "train"))
    # At most PIECES pieces plus the vocabulary's <pad> and <unk>, and fewer unknown test tokens.
    assert pieces.vocab_size <= PIECES + 2
    oov = [TextSpec.read(Path(prepared.features_dir) / TEXT_SPEC_FILE).test_oov_rate for prepared in (pieces, words)]
    assert oov[0] < oov[1]


def test_the_served_model_splits_raw_text_into_the_same_pieces(piece_features, tmp_path, predict_through_pool):
    """Raw test texts through the logged pyfunc give what the model gives on the training-time ids,
    for a small request and for a large one tokenized by the process pool."""
    from models.registry import build_classifier
    from models.text_classifier import class_probabilities
    from pipeline.kinds.classification import KIND

    config, prepared, _ = piece_features
    model = build_classifier("lstm", config.model, prepared.vocab_size, prepared.num_classes)
    model.save(tmp_path / "model.keras")
    parts = KIND.serving_parts(config, prepared, SimpleNamespace(flavor="keras"), str(tmp_path / "model.keras"))
    assert "subwords" in parts.artifacts
    mlflow.pyfunc.save_model(tmp_path / "pyfunc", python_model=parts.python_model, artifacts=parts.artifacts,
                             pip_requirements=["mlflow"], **parts.typed_example())
    served = mlflow.pyfunc.load_model(str(tmp_path / "pyfunc"))
    with np.load(Path(prepared.features_dir) / FEATURES_FILE) as arrays:
        expected = class_probabilities(model.predict(arrays["x_test"], verbose=0))
    texts = split_texts(prepared.features_dir, "test")
    small = served.predict(texts)
    np.testing.assert_allclose(small["probability"], expected.max(axis=1), rtol=1e-4)
    pooled = predict_through_pool(served, texts)
    np.testing.assert_allclose(pooled["probability"], expected.max(axis=1), rtol=1e-4)


def test_too_few_pieces_for_the_characters_is_one_error_naming_the_field(small_config):
    config = small_config.with_values({"text.subword_vocab_size": 20})
    with pytest.raises(ConfigError, match=r"text.subword_vocab_size: 20 pieces cannot cover the \d+ distinct "
                                          r"characters of the train split; ask for at least \d+"):
        run_preprocess(config, run_ingest(config))


def test_pieces_are_refused_where_they_cannot_apply(tmp_path):
    with pytest.raises(ConfigError, match="text.subword_vocab_size: characters"):
        load_config("nsmc", {"data_root": str(tmp_path), "text.tokenizer": "chars", "text.subword_vocab_size": 100})
    with pytest.raises(ConfigError, match="source side is words"):
        load_config("aihub_translation", {"data_root": str(tmp_path), "text.subword_vocab_size": 100})


def test_pieces_join_back_into_words_with_summed_weights():
    from pipeline.text.subword import pieces_to_words, word_of_piece

    pairs = [("▁이", 0.1), ("▁영", 0.2), ("화", 0.3), ("▁최고", 0.4)]
    assert pieces_to_words(pairs) == [("이", 0.1), ("영화", pytest.approx(0.5)), ("최고", 0.4)]
    # Truncation can cut a word's first piece off: its tail stands alone rather than vanishing.
    assert pieces_to_words([("화", 0.3), ("▁최고", 0.7)]) == [("화", 0.3), ("최고", 0.7)]
    assert [word_of_piece(piece) for piece in ("▁영화", "화", "▁")] == ["영화", None, None]


def test_an_attention_model_on_pieces_shows_attention_over_words(piece_features, tmp_path):
    """Served with return_attention, a piece model answers with the tokenizer's words (each weighed
    by its pieces' summed weights), the same words a word-level model shows."""
    from models.registry import build_classifier
    from pipeline.kinds.classification import KIND

    config, prepared, words = piece_features
    model = build_classifier("bilstm_attention", config.model, prepared.vocab_size, prepared.num_classes)
    model.save(tmp_path / "model.keras")
    parts = KIND.serving_parts(config, prepared, SimpleNamespace(flavor="keras"), str(tmp_path / "model.keras"))
    mlflow.pyfunc.save_model(tmp_path / "pyfunc", python_model=parts.python_model, artifacts=parts.artifacts,
                             pip_requirements=["mlflow"], **parts.typed_example())
    served = mlflow.pyfunc.load_model(str(tmp_path / "pyfunc"))
    texts = split_texts(prepared.features_dir, "test")[:20]
    word_rows = [row.split() for row in split_tokens(words.features_dir, "test")[:20]]
    attention = served.predict(texts, params={"return_attention": True})["attention"]
    shown = [[token for token, _ in pairs] for pairs in attention]
    assert shown == [row[:len(shown_row)] for row, shown_row in zip(word_rows, shown)]
    assert all(len(row) > 0 for row in shown) and any("▁" not in "".join(row) and len(row) > 1 for row in shown)
    for pairs in attention:
        assert sum(weight for _, weight in pairs) == pytest.approx(1.0, abs=1e-3)


def test_the_attention_heatmap_of_a_piece_model_shows_words(piece_features):
    """Evaluation's attention examples (the heatmap's rows) join pieces into words as serving does."""
    from models.registry import build_classifier
    from pipeline.kinds.classification.evaluation import attention_examples

    config, prepared, words = piece_features
    model = build_classifier("bilstm_attention", config.model, prepared.vocab_size, prepared.num_classes)
    spec = TextSpec.read(Path(prepared.features_dir) / TEXT_SPEC_FILE)
    with np.load(Path(prepared.features_dir) / FEATURES_FILE) as arrays:
        y_test = arrays["y_test"]
    examples = attention_examples(model, prepared, spec, y_test)
    word_rows = [row.split() for row in split_tokens(words.features_dir, "test")]
    assert examples
    for example in examples:
        assert example["tokens"] == word_rows[example["test_row"]][:len(example["tokens"])]
        assert sum(example["weights"]) == pytest.approx(1.0, abs=1e-3)
