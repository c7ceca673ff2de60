from pathlib import Path

import numpy as np

from pipeline.io import read_json
from pipeline.kinds.classification.features import SUBWORD_FILE, VOCAB_FILE
from pipeline.results import FEATURES_FILE, TEXT_SPEC_FILE
from pipeline.stages.ingest import run_ingest
from pipeline.stages.preprocess import run_preprocess
from pipeline.text.spec import TextSpec
from pipeline.text.subword import SubwordModel
from pipeline.text.vocab import Vocabulary


def _preprocess(config):
    ingested = run_ingest(config)
    return ingested, run_preprocess(config, ingested)


def test_vocabulary_is_fit_on_train_only_and_ids_are_right_padded(small_config):
    import pandas as pd

    ingested, prepared = _preprocess(small_config)
    assert prepared.rows == ingested.rows and prepared.num_classes == 2
    vocab = Vocabulary.from_dict(read_json(f"{prepared.features_dir}/{VOCAB_FILE}"))
    assert len(vocab) == prepared.vocab_size
    with np.load(f"{prepared.features_dir}/{FEATURES_FILE}") as arrays:
        x_train, x_test = arrays["x_train"], arrays["x_test"]
    assert x_train.shape == (54, prepared.max_len)
    lengths = (x_train > 0).sum(axis=1)
    assert all((row[:n] > 0).all() and (row[n:] == 0).all() for row, n in zip(x_train, lengths))
    table = pd.read_parquet(ingested.table_path)
    from pipeline.text.processor import TextProcessor

    processor = TextProcessor.from_config(small_config.text)
    pieces = (SubwordModel((Path(prepared.features_dir) / SUBWORD_FILE).read_bytes()).pieces
              if small_config.text.subword_vocab_size else None)  # the model's tokens are the words' pieces
    train_tokens = {t for text in table.loc[table.split == "train", "text"]
                    for t in (pieces(processor.tokens(text)) if pieces else processor.tokens(text))}
    assert set(vocab.tokens[2:]) <= train_tokens
    spec = TextSpec.read(f"{prepared.features_dir}/{TEXT_SPEC_FILE}")
    assert spec.source.tokenizer["name"] == "mecab" and spec.source.length == prepared.max_len
    assert spec.target is None and spec.label_names == ["negative", "positive"]
    assert x_test.shape[0] == 30


def test_rerun_hits_the_cache(small_config):
    _, first = _preprocess(small_config)
    _, second = _preprocess(small_config)
    assert second.features_dir == first.features_dir and second.token_cache_hit


def test_changed_ingestion_settings_invalidate_the_features(small_config):
    """Same raw files, different table: the caches must not serve the old table's features."""
    _, first = _preprocess(small_config)
    changed = small_config.model_copy(update={"corpus": small_config.corpus.model_copy(update={"valid_fraction": 0.3})})
    _, second = _preprocess(changed)
    assert second.features_dir != first.features_dir
    assert second.rows["valid"] == 18 and not second.token_cache_hit
