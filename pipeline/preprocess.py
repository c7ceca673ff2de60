"""Preprocess stage: canonical table -> token cache -> vocabulary (train split only) -> id arrays.

Output folder ``<data_root>/processed/features/<key>/`` holds ``features.npz``, ``vocab.json`` and
``text_spec.json`` (everything serving needs to turn raw text into the same ids).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import PipelineConfig
from pipeline.io import atomic_dir, digest_strings, read_json, write_json
from pipeline.text.parallel import cached_tokenize, token_cache_key
from pipeline.text.processor import TextProcessor
from pipeline.text.vocab import Vocabulary, length_at_percentile, pad_ids

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
FEATURES_FILE = "features.npz"
VOCAB_FILE = "vocab.json"
TEXT_SPEC_FILE = "text_spec.json"
SUMMARY_FILE = "summary.json"
TOKENS_FILE = "tokens.parquet"  # space-joined tokens per row and split, for the bag-of-words baselines
PREPROCESS_VERSION = "2"


@dataclass(frozen=True)
class PreprocessResult:
    features_dir: str
    vocab_size: int
    max_len: int
    num_classes: int
    rows: dict[str, int]
    token_cache_hit: bool
    tokenize_seconds: float

    def to_xcom(self) -> dict:
        return asdict(self)

    def params(self) -> dict:
        return {"vocab_size": self.vocab_size, "max_len": self.max_len}


def run_preprocess(config: PipelineConfig, table_path: str, report_path: str, table_digest: str) -> PreprocessResult:
    """``table_digest`` identifies the canonical table (not just the raw files): caches keyed on
    it stay valid only while ingestion produced exactly this table."""
    text = config.text
    tokens_key = token_cache_key(table_digest, text)
    settings = text.model_dump(include={"min_freq", "max_vocab", "max_len", "max_len_percentile", "truncate_from"})
    key = digest_strings(tokens_key, repr(sorted(settings.items())), PREPROCESS_VERSION)
    out_dir = config.data_dir() / "processed" / "features" / key
    if (out_dir / SUMMARY_FILE).is_file():
        log.info("features cache hit: %s", out_dir)
        return PreprocessResult(**{**read_json(out_dir / SUMMARY_FILE), "token_cache_hit": True,
                                   "tokenize_seconds": 0.0})

    table = pd.read_parquet(table_path)
    label_names = read_json(report_path)["label_names"]
    start = time.perf_counter()
    tokens, cache_hit = cached_tokenize(table["text"].tolist(), text, table_digest,
                                        config.data_dir() / "processed" / "tokens")
    tokenize_seconds = time.perf_counter() - start
    token_lists = [joined.split() for joined in tokens]
    is_train = (table["split"] == "train").to_numpy()
    train_tokens = [t for t, keep in zip(token_lists, is_train) if keep]
    vocab = Vocabulary.fit(train_tokens, min_freq=text.min_freq, max_size=text.max_vocab)
    max_len = text.max_len or length_at_percentile([len(t) for t in train_tokens], text.max_len_percentile)

    arrays, rows = {}, {}
    for split in SPLITS:
        mask = (table["split"] == split).to_numpy()
        ids = [vocab.encode(t) for t, keep in zip(token_lists, mask) if keep]
        arrays[f"x_{split}"] = pad_ids(ids, max_len, text.truncate_from)
        arrays[f"y_{split}"] = table.loc[mask, "label"].to_numpy(np.int64)
        arrays[f"row_{split}"] = np.flatnonzero(mask)  # row in the table, to show texts later
        rows[split] = int(mask.sum())
    if rows["train"] == 0 or rows["test"] == 0:
        raise ValueError(f"{table_path}: need train and test rows, got {rows}")
    oov = float((arrays["x_test"] == 1).sum()) / max(1, int((arrays["x_test"] > 0).sum()))
    result = PreprocessResult(str(out_dir), len(vocab), int(max_len), len(label_names), rows, cache_hit,
                              round(tokenize_seconds, 3))
    text_spec = {
        "text_config": text.model_dump(mode="json"),
        "processor": TextProcessor.from_config(text).identity(),
        "max_len": int(max_len),
        "label_names": label_names,
        "table_path": str(table_path),
        "test_oov_rate": round(float(oov), 4),
    }
    with atomic_dir(out_dir) as tmp:
        np.savez(tmp / FEATURES_FILE, **arrays)
        pd.DataFrame({"split": table["split"], "tokens": tokens}).to_parquet(tmp / TOKENS_FILE, index=False)
        write_json(tmp / VOCAB_FILE, vocab.to_dict())
        write_json(tmp / TEXT_SPEC_FILE, text_spec)
        write_json(tmp / SUMMARY_FILE, {**asdict(result), "features_dir": str(out_dir)})
    log.info("features: %s rows, vocab %d, max_len %d -> %s", rows, len(vocab), max_len, out_dir)
    return result


def split_texts(features_dir: str | Path, split: str) -> list[str]:
    """Raw texts of one split, in the same row order as its id arrays."""
    spec = read_json(Path(features_dir) / TEXT_SPEC_FILE)
    with np.load(Path(features_dir) / FEATURES_FILE) as arrays:
        rows = arrays[f"row_{split}"]
    return pd.read_parquet(spec["table_path"], columns=["text"])["text"].to_numpy()[rows].tolist()


def split_tokens(features_dir: str | Path, split: str) -> list[str]:
    """Space-joined tokens of one split, in the same row order as its id arrays."""
    frame = pd.read_parquet(Path(features_dir) / TOKENS_FILE)
    return frame.loc[frame["split"] == split, "tokens"].tolist()
