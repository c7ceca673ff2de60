"""Classification data: the canonical table (train/valid/test rows of text and label) and its
features: table -> token cache -> vocabulary (train split only) -> padded id arrays.

A features folder ``<data_root>/processed/features/<key>/`` holds ``features.npz`` (``x_<split>``,
``y_<split>``, ``row_<split>``), ``vocab.json``, ``tokens.parquet`` and ``text_spec.json``
(everything serving needs to turn raw text into the same ids), and with ``text.subword_vocab_size``
the sentencepiece model ``subwords.model``: the tokenizer's words are then split into pieces
learned on the train split, and pieces are the model's tokens everywhere (ids, the baselines'
bag of words, word2vec, attention).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import PipelineConfig
from pipeline.corpora.base import CorpusRead
from pipeline.corpora.errors import CorpusFormatError
from pipeline.io import digest_strings, read_json, write_json
from pipeline.kinds.classification.checks import classification_profile
from pipeline.kinds.features import cached_features, features_dir_for, save_features
from pipeline.names import SPLITS
from pipeline.results import (
    FEATURES_FILE,
    TEXT_SPEC_FILE,
    IngestResult,
    PreparedFeatures,
)
from pipeline.text.parallel import cached_tokenize, token_cache_key
from pipeline.text.processor import TextProcessor
from pipeline.text.spec import TextSide, TextSpec
from pipeline.text.subword import SubwordModel
from pipeline.text.vocab import Vocabulary, length_at_percentile, pad_ids

log = logging.getLogger(__name__)

VOCAB_FILE = "vocab.json"
TOKENS_FILE = "tokens.parquet"  # space-joined tokens per row and split, for the bag-of-words baselines
SUBWORD_FILE = "subwords.model"  # with text.subword_vocab_size: the pieces' sentencepiece model
PREPROCESS_VERSION = "2"


@dataclass(frozen=True)
class ClassificationFeatures(PreparedFeatures):
    vocab_size: int
    max_len: int
    num_classes: int

    def sizes(self) -> dict[str, int]:
        return {"vocab_size": self.vocab_size, "max_len": self.max_len}


def prepare_classification(config: PipelineConfig, ingested: IngestResult) -> ClassificationFeatures:
    """Token ids for every split. The cache key starts from the canonical table's digest (not
    just the raw files'): features stay valid only while ingestion produced exactly this table."""
    text = config.text
    tokens_key = token_cache_key(ingested.table_digest, text)
    settings = text.model_dump(include={"min_freq", "max_vocab", "max_len", "max_len_percentile", "truncate_from",
                                        "subword_vocab_size"})
    out_dir = features_dir_for(config, digest_strings(tokens_key, repr(sorted(settings.items())), PREPROCESS_VERSION))
    cached = cached_features(out_dir, ClassificationFeatures, ingested)
    if cached is not None:
        return cached

    table = pd.read_parquet(ingested.table_path)
    label_names = read_json(ingested.report_path)["label_names"]
    start = time.perf_counter()
    tokens, cache_hit = cached_tokenize(table["text"].tolist(), text, ingested.table_digest,
                                        config.data_dir() / "processed" / "tokens")
    tokenize_seconds = time.perf_counter() - start
    token_lists = [joined.split() for joined in tokens]
    is_train = (table["split"] == "train").to_numpy()
    train_tokens = [t for t, keep in zip(token_lists, is_train) if keep]
    subwords = None
    if text.subword_vocab_size:
        subwords = SubwordModel.train(train_tokens, text.subword_vocab_size, "text.subword_vocab_size")
        token_lists = [subwords.pieces(t) for t in token_lists]
        tokens = [" ".join(t) for t in token_lists]
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
        raise CorpusFormatError(f"{ingested.table_path}: need train and test rows, got {rows}")
    oov = float((arrays["x_test"] == 1).sum()) / max(1, int((arrays["x_test"] > 0).sum()))
    result = ClassificationFeatures(str(out_dir), rows, cache_hit, round(tokenize_seconds, 3), ingested.data_digest,
                                    ingested.test_digest, len(vocab), int(max_len), len(label_names))
    text_spec = TextSpec(source=TextSide(text, TextProcessor.from_config(text).identity(), int(max_len)),
                         table_path=str(ingested.table_path), label_names=list(label_names),
                         test_oov_rate=round(float(oov), 4))
    with save_features(out_dir, result, arrays, text_spec) as tmp:
        pd.DataFrame({"split": table["split"], "tokens": tokens}).to_parquet(tmp / TOKENS_FILE, index=False)
        write_json(tmp / VOCAB_FILE, vocab.to_dict())
        if subwords is not None:
            (tmp / SUBWORD_FILE).write_bytes(subwords.model_bytes)
    log.info("features: %s rows, vocab %d, max_len %d -> %s", rows, len(vocab), max_len, out_dir)
    return result


def split_texts(features_dir: str | Path, split: str) -> list[str]:
    """Raw texts of one split, in the same row order as its id arrays."""
    spec = TextSpec.read(Path(features_dir) / TEXT_SPEC_FILE)
    with np.load(Path(features_dir) / FEATURES_FILE) as arrays:
        rows = arrays[f"row_{split}"]
    return pd.read_parquet(spec.table_path, columns=["text"])["text"].to_numpy()[rows].tolist()


def split_tokens(features_dir: str | Path, split: str) -> list[str]:
    """Space-joined tokens of one split, in the same row order as its id arrays."""
    frame = pd.read_parquet(Path(features_dir) / TOKENS_FILE)
    return frame.loc[frame["split"] == split, "tokens"].tolist()


def classification_table(read: CorpusRead, config: PipelineConfig, data_digest: str) -> tuple[pd.DataFrame, dict]:
    """The reader's train and test rows (a stratified test split carved from train when the reader
    has none, a stratified validation split always) and their report."""
    frames = []
    for split, frame in read.splits.items():
        if config.corpus.max_rows_per_split:
            frame = frame.iloc[: config.corpus.max_rows_per_split]
        if frame.empty:
            files = _describe(read.file_reports.get(split, {}))
            raise CorpusFormatError(f"{config.corpus.name} {split} split ({files}): no usable rows")
        frames.append(frame.assign(split=split))
    table = pd.concat(frames, ignore_index=True)
    if "test" not in read.splits:
        # Readers of tables without a published test split say how much to hold out.
        fraction = getattr(config.corpus, "test_fraction", None)
        where = _describe(read.file_reports.get("train", {}))
        if fraction is None:
            raise CorpusFormatError(f"{config.corpus.name} ({where}): the reader found no test split")
        table = carve_split(table, "test", fraction, config.train.seed)
        if not (table["split"] == "test").any():
            raise CorpusFormatError(f"{config.corpus.name} ({where}): too few rows to carve a test split "
                                    f"of corpus.test_fraction {fraction}")
    table = carve_split(table, "valid", config.corpus.valid_fraction, config.train.seed)
    return table, validation_report(table, read.file_reports, data_digest, read.label_names)


def _describe(file_report: dict) -> str:
    """The file(s) a split was read from, as its reader reported them."""
    paths = [file_report["file"]] if "file" in file_report else sorted(map(str, file_report.get("files", [])))
    if not paths:
        return "no file recorded"
    return paths[0] if len(paths) == 1 else f"{paths[0]} and {len(paths) - 1} more"


def carve_split(table: pd.DataFrame, split: str, fraction: float, seed: int) -> pd.DataFrame:
    """Move a seeded ``fraction`` of each label's train rows to ``split`` (stratified, so a rare
    class is in both; a class with a single train row stays in train)."""
    table = table.copy()
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    chosen = []
    train = table[table["split"] == "train"]
    for _, rows in train.groupby("label", sort=True):
        count = min(int(round(len(rows) * fraction)), len(rows) - 1)
        chosen.extend(rng.permutation(rows.index.to_numpy())[:max(count, 0)])
    table.loc[chosen, "split"] = split
    return table


def split_digest(split: pd.DataFrame) -> str:
    """Identity of a split's content: two models are comparable only on the same test digest."""
    return digest_strings(*(f"{text}\t{label}" for text, label in zip(split["text"], split["label"])))


def validation_report(table: pd.DataFrame, file_reports: dict, data_digest: str,
                      label_names: list[str]) -> dict:
    lengths = table["text"].str.len()
    per_split = {}
    for split, group in table.groupby("split"):
        split_lengths = lengths[group.index]
        per_split[split] = {
            "rows": len(group),
            "label_counts": {str(k): int(v) for k, v in group["label"].value_counts().sort_index().items()},
            "chars": {"mean": round(float(split_lengths.mean()), 2),
                      "p50": float(split_lengths.quantile(0.5)),
                      "p95": float(split_lengths.quantile(0.95)),
                      "max": int(split_lengths.max())},
        }
    test = table[table["split"] == "test"]
    train_texts = set(table.loc[table["split"] == "train", "text"])
    overlap = int(test["text"].isin(train_texts).sum())
    return {
        "data_digest": data_digest,
        "label_names": label_names,
        "test_digest": split_digest(test),
        "rows": {split: stats["rows"] for split, stats in per_split.items()},
        "splits": per_split,
        "files": file_reports,
        # Kept, not dropped: the test file is the published benchmark split.
        "test_documents_also_in_train": overlap,
        # What a later run's drift check compares its train split with (pipeline.checks.report).
        "profile": classification_profile(table, label_names),
    }
