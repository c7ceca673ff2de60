"""Translation data: the pair table (split by source sentence) and its features: pairs -> token
ids, a vocabulary per side fit on the train split.

A features folder holds ``features.npz`` (``x_<split>`` source ids, ``decoder_in_<split>`` =
``<sos> y``, ``decoder_out_<split>`` = ``y <eos>``, ``row_<split>``), ``source_vocab.json``,
``target_vocab.json`` and ``text_spec.json``: everything the served translator needs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.config import PipelineConfig, TextConfig
from pipeline.corpora.base import CorpusRead
from pipeline.corpora.errors import CorpusFormatError
from pipeline.io import digest_strings, write_json
from pipeline.kinds.features import cached_features, features_dir_for, save_features
from pipeline.names import SPLITS
from pipeline.results import IngestResult, PreparedFeatures
from pipeline.text.parallel import cached_tokenize, token_cache_key
from pipeline.text.processor import TextProcessor
from pipeline.text.spec import TextSide, TextSpec
from pipeline.text.subword import SubwordModel
from pipeline.text.vocab import (
    EOS_TOKEN,
    SEQ2SEQ_RESERVED,
    SOS_TOKEN,
    Vocabulary,
    length_at_percentile,
    pad_ids,
    truncate,
)

log = logging.getLogger(__name__)

SOURCE_VOCAB_FILE = "source_vocab.json"
TARGET_VOCAB_FILE = "target_vocab.json"
TARGET_SUBWORD_FILE = "target_subwords.model"
PREPROCESS_VERSION = "1"
# Vocabulary and length settings of each side: with the token cache keys, they key the features.
_SIDE_SETTINGS = {"min_freq", "max_vocab", "max_len", "max_len_percentile", "truncate_from", "subword_vocab_size"}


@dataclass(frozen=True)
class TranslationFeatures(PreparedFeatures):
    source_vocab_size: int
    target_vocab_size: int
    source_len: int
    target_len: int
    max_output_len: int

    def sizes(self) -> dict[str, int]:
        return {"source_vocab_size": self.source_vocab_size, "target_vocab_size": self.target_vocab_size,
                "source_len": self.source_len, "target_len": self.target_len}


@dataclass
class TokenizedPairs:
    """Both sides' tokens for every row of the table, and which rows are train rows."""

    sources: list[list[str]]
    targets: list[list[str]]
    is_train: np.ndarray
    cache_hit: bool
    seconds: float

    def train_rows(self, side: list[list[str]]) -> list[list[str]]:
        return [tokens for tokens, keep in zip(side, self.is_train) if keep]


def prepare_translation(config: PipelineConfig, ingested: IngestResult) -> TranslationFeatures:
    source_text, target_text = config.text, config.target_text
    key = digest_strings(token_cache_key(f"{ingested.table_digest}:source", source_text),
                         token_cache_key(f"{ingested.table_digest}:target", target_text),
                         repr({side: text.model_dump(include=_SIDE_SETTINGS)
                               for side, text in (("source", source_text), ("target", target_text))}),
                         str(config.decode.max_extra_tokens), PREPROCESS_VERSION)
    out_dir = features_dir_for(config, key)
    cached = cached_features(out_dir, TranslationFeatures, ingested)
    if cached is not None:
        return cached

    table = pd.read_parquet(ingested.table_path)
    pairs = tokenize_pairs(table, config, ingested.table_digest)
    subwords = None
    if target_text.subword_vocab_size:
        subwords = SubwordModel.train(pairs.train_rows(pairs.targets), target_text.subword_vocab_size,
                                      "target_text.subword_vocab_size")
        pairs.targets = [subwords.pieces(tokens) for tokens in pairs.targets]
    train_sources, train_targets = pairs.train_rows(pairs.sources), pairs.train_rows(pairs.targets)
    source_vocab = Vocabulary.fit(train_sources, source_text.min_freq, source_text.max_vocab, SEQ2SEQ_RESERVED)
    target_vocab = Vocabulary.fit(train_targets, target_text.min_freq, target_text.max_vocab, SEQ2SEQ_RESERVED)
    source_len = sequence_length(train_sources, source_text)
    # Targets get one more step: <sos> in front of the decoder input, <eos> after the output.
    target_len = sequence_length(train_targets, target_text) + 1
    arrays, rows = encode_pairs(table["split"].to_numpy(), pairs, source_vocab, target_vocab, source_len,
                                target_len, source_text.truncate_from)
    max_output_len = max(len(tokens) for tokens in train_targets) + config.decode.max_extra_tokens
    result = TranslationFeatures(str(out_dir), rows, pairs.cache_hit, round(pairs.seconds, 3), ingested.data_digest,
                                 ingested.test_digest, len(source_vocab), len(target_vocab), int(source_len),
                                 int(target_len), int(max_output_len))
    text_spec = TextSpec(
        source=TextSide(source_text, TextProcessor.from_config(source_text).identity(), int(source_len)),
        target=TextSide(target_text, TextProcessor.from_config(target_text).identity(), int(target_len)),
        table_path=str(ingested.table_path), max_output_len=int(max_output_len),
        decode=config.decode.model_dump(mode="json"))
    with save_features(out_dir, result, arrays, text_spec) as tmp:
        write_json(tmp / SOURCE_VOCAB_FILE, source_vocab.to_dict())
        write_json(tmp / TARGET_VOCAB_FILE, target_vocab.to_dict())
        if subwords is not None:  # a record of how the targets were split; serving joins pieces without it
            (tmp / TARGET_SUBWORD_FILE).write_bytes(subwords.model_bytes)
    log.info("translation features: %s rows, vocab %d -> %d, lengths %d -> %d, into %s", rows, len(source_vocab),
             len(target_vocab), source_len, target_len, out_dir)
    return result


def tokenize_pairs(table: pd.DataFrame, config: PipelineConfig, table_digest: str) -> TokenizedPairs:
    """Each side through its own text settings, cached per side (a side's cache survives a change
    to the other side's settings)."""
    cache_dir = config.data_dir() / "processed" / "tokens"
    start = time.perf_counter()
    sides, hits = {}, []
    for side, text in (("source", config.text), ("target", config.target_text)):
        joined, hit = cached_tokenize(table[side].tolist(), text, f"{table_digest}:{side}", cache_dir)
        sides[side] = [tokens.split() for tokens in joined]
        hits.append(hit)
    return TokenizedPairs(sides["source"], sides["target"], (table["split"] == "train").to_numpy(), all(hits),
                          time.perf_counter() - start)


def sequence_length(train_tokens: list[list[str]], text: TextConfig) -> int:
    """The fixed ``max_len``, else that percentile of the train rows' token counts."""
    return text.max_len or length_at_percentile([len(tokens) for tokens in train_tokens], text.max_len_percentile)


def encode_pairs(splits: np.ndarray, pairs: TokenizedPairs, source_vocab: Vocabulary, target_vocab: Vocabulary,
                 source_len: int, target_len: int, truncate_from: str) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Padded id arrays per split: source ids, and the decoder's teacher-forced input and output."""
    sos, eos = target_vocab.id_of(SOS_TOKEN), target_vocab.id_of(EOS_TOKEN)
    arrays, rows = {}, {}
    for split in SPLITS:
        mask = splits == split
        sources = [source_vocab.encode(tokens) for tokens, keep in zip(pairs.sources, mask) if keep]
        targets = [list(truncate(target_vocab.encode(tokens), target_len - 1, "end"))
                   for tokens, keep in zip(pairs.targets, mask) if keep]
        arrays[f"x_{split}"] = pad_ids(sources, source_len, truncate_from)
        arrays[f"decoder_in_{split}"] = pad_ids([[sos, *ids] for ids in targets], target_len, "end")
        arrays[f"decoder_out_{split}"] = pad_ids([[*ids, eos] for ids in targets], target_len, "end")
        arrays[f"row_{split}"] = np.flatnonzero(mask)
        rows[split] = int(mask.sum())
    return arrays, rows


def pair_lengths(texts: Iterable[str]) -> list[int]:
    """Whitespace words: the unit of the length filters (tokenizer-independent, so cheap and stable)."""
    return [len(text.split()) for text in texts]


def parallel_table(read: CorpusRead, config: PipelineConfig, data_digest: str) -> tuple[pd.DataFrame, dict]:
    """Filter, de-duplicate and split translation pairs; every removal is counted in the report.

    The split is by source sentence: all translations of one sentence land in the same split, so
    no test source was seen in training (Tatoeba has many sentences with several translations).
    """
    corpus, seed = config.corpus, config.train.seed
    pairs = read.splits["all"]
    dropped = dict(read.file_reports["all"]["dropped"])
    if pairs.empty:  # before any filter: the files themselves hold no pair
        raise CorpusFormatError(f"{corpus.source}: no sentence pairs in the file(s) (dropped while reading: "
                                f"{ {key: value for key, value in dropped.items() if value} or 'nothing'})")
    source_words = pd.Series(pair_lengths(pairs["source"]), index=pairs.index)
    target_words = pd.Series(pair_lengths(pairs["target"]), index=pairs.index)
    too_short = (source_words < corpus.min_words) | (target_words < corpus.min_words)
    too_long = pd.Series(False, index=pairs.index)
    if corpus.max_words:
        too_long = (source_words > corpus.max_words) | (target_words > corpus.max_words)
    dropped["shorter_than_min_words"] = int(too_short.sum())
    dropped["longer_than_max_words"] = int((too_long & ~too_short).sum())
    pairs = pairs[~too_short & ~too_long]
    if corpus.drop_train_duplicates:
        repeated = pairs.duplicated(subset=["source", "target"])
        dropped["duplicate_pair"] = int(repeated.sum())
        pairs = pairs[~repeated]
    rng = np.random.default_rng(seed)
    if corpus.max_pairs and len(pairs) > corpus.max_pairs:
        dropped["over_max_pairs"] = len(pairs) - corpus.max_pairs
        pairs = pairs.iloc[np.sort(rng.choice(len(pairs), corpus.max_pairs, replace=False))]
    if pairs.empty:
        raise CorpusFormatError(f"{corpus.source}: no pairs left after the filters (dropped: "
                                f"{ {key: value for key, value in dropped.items() if value} })")
    sources = pairs["source"].unique()
    order = rng.permutation(len(sources))
    n_test = int(round(len(sources) * corpus.test_fraction))
    n_valid = int(round(len(sources) * corpus.valid_fraction))
    split_of = {}
    for rank, index in enumerate(order):
        split_of[sources[index]] = "test" if rank < n_test else "valid" if rank < n_test + n_valid else "train"
    table = pairs.assign(split=pairs["source"].map(split_of)).reset_index(drop=True)
    rows = {split: int((table["split"] == split).sum()) for split in ("train", "valid", "test")}
    if rows["train"] == 0 or rows["test"] == 0:
        raise CorpusFormatError(f"{corpus.source}: {len(table)} pairs are too few for a train and a test split")
    test = table[table["split"] == "test"]
    return table, {
        "data_digest": data_digest,
        "label_names": [],
        "test_digest": digest_strings(*(f"{s}\t{t}" for s, t in zip(test["source"], test["target"]))),
        "rows": rows,
        "split_seed": seed,
        "domains": {domain: {split: int(n) for split, n in group["split"].value_counts().sort_index().items()}
                    for domain, group in table.groupby("domain")},
        "words": {side: {"mean": round(float(np.mean(lengths)), 2), "p95": float(np.percentile(lengths, 95)),
                         "max": int(np.max(lengths))}
                  for side, lengths in (("source", pair_lengths(table["source"])),
                                        ("target", pair_lengths(table["target"])))},
        "dropped": {reason: count for reason, count in dropped.items() if count},
        "files": read.file_reports["all"]["files"],
    }
