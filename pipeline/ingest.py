"""Ingest stage: a corpus source -> the canonical table (id, text, label, split) + a report.

Output is content-addressed: ``<data_root>/processed/ingest/<key>/`` where the key covers the
input files' sha256 and the ingestion settings, so a rerun with the same inputs reuses it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import PipelineConfig
from pipeline.corpora.download import fetch
from pipeline.corpora.errors import CorpusFormatError, CorpusUnavailableError
from pipeline.corpora.parallel import pair_lengths
from pipeline.corpora.readers import CorpusReader, corpus_reader
from pipeline.io import atomic_dir, digest_strings, read_json, sha256_file, write_json

log = logging.getLogger(__name__)

INGEST_VERSION = "3"
TABLE_FILE = "table.parquet"
REPORT_FILE = "report.json"


@dataclass(frozen=True)
class IngestResult:
    """What the ingest task hands on through XCom: references and small figures only."""

    table_path: str
    report_path: str
    data_digest: str    # the input files' content
    table_digest: str   # the canonical table's identity: input digest + ingestion settings + code version
    test_digest: str    # the test split's content
    rows: dict[str, int]

    def to_xcom(self) -> dict:
        return asdict(self)


def resolve_source_files(config: PipelineConfig, reader: CorpusReader) -> dict[str, Path]:
    """File name -> local file: from ``corpus.source`` if given, else downloaded and verified."""
    corpus = config.corpus
    if corpus.source:
        return reader.locate(Path(corpus.source).expanduser(), corpus)
    if not reader.downloadable:
        raise CorpusUnavailableError(
            f"corpus {corpus.name} is read from a local folder only: pass it with --source PATH "
            f"(or --set corpus.source=PATH)")
    raw_dir = config.data_dir() / "raw" / corpus.name
    files = {}
    for name in reader.files:
        url = corpus.urls.get(name)
        if not url:
            raise CorpusUnavailableError(f"corpus.urls has no URL for {name}; pass --source PATH")
        try:
            files[name] = fetch(url, raw_dir / name, corpus.sha256.get(name),
                                timeout=corpus.download_timeout_seconds, md5=corpus.md5.get(name))
        except CorpusUnavailableError as exc:
            raise CorpusUnavailableError(
                f"{exc}\nThe {corpus.name} corpus could not be downloaded and no local copy was given. "
                f"Pass a folder holding {', '.join(reader.files)} with "
                f"--source PATH (or --set corpus.source=PATH)."
            ) from exc
    return files


def run_ingest(config: PipelineConfig) -> IngestResult:
    reader = corpus_reader(config.corpus.name)
    files = resolve_source_files(config, reader)
    for path in files.values():
        if not path.is_file():
            raise CorpusFormatError(f"{path}: file not found")
    file_digests = {name: sha256_file(path) for name, path in files.items()}
    data_digest = digest_strings(*(f"{name}={file_digests[name]}" for name in sorted(file_digests)))
    # Every setting that shapes the table (where the files came from is already in data_digest).
    settings = config.corpus.model_dump(mode="json", exclude={"source", "urls", "sha256", "md5",
                                                             "download_timeout_seconds"})
    key = digest_strings(data_digest, repr(sorted(settings.items())), str(config.train.seed), INGEST_VERSION)
    out_dir = config.data_dir() / "processed" / "ingest" / key
    if (out_dir / TABLE_FILE).is_file():
        log.info("ingest cache hit: %s", out_dir)
        report = read_json(out_dir / REPORT_FILE)
        return IngestResult(str(out_dir / TABLE_FILE), str(out_dir / REPORT_FILE), data_digest, key,
                            report["test_digest"], report["rows"])

    read = reader.read(files, config.corpus)
    if reader.task == "translation":
        table, report = parallel_table(read, config, data_digest)
    else:
        table, report = classification_table(read, config, files, data_digest)
    report["file_sha256"] = file_digests
    with atomic_dir(out_dir) as tmp:
        table.to_parquet(tmp / TABLE_FILE, index=False)
        write_json(tmp / REPORT_FILE, report)
    log.info("ingested %s rows into %s", report["rows"], out_dir)
    return IngestResult(str(out_dir / TABLE_FILE), str(out_dir / REPORT_FILE), data_digest, key,
                        report["test_digest"], report["rows"])


def classification_table(read, config: PipelineConfig, files: dict[str, Path], data_digest: str):
    frames = []
    for split, frame in read.splits.items():
        if config.corpus.max_rows_per_split:
            frame = frame.iloc[: config.corpus.max_rows_per_split]
        if frame.empty:
            raise CorpusFormatError(f"{config.corpus.name} {split} split ({_describe(files)}): no usable rows")
        frames.append(frame.assign(split=split))
    table = assign_validation_split(pd.concat(frames, ignore_index=True),
                                    config.corpus.valid_fraction, config.train.seed)
    return table, validation_report(table, read.file_reports, data_digest, read.label_names)


def parallel_table(read, config: PipelineConfig, data_digest: str):
    """Filter, de-duplicate and split translation pairs; every removal is counted in the report.

    The split is by source sentence: all translations of one sentence land in the same split, so
    no test source was seen in training (Tatoeba has many sentences with several translations).
    """
    corpus, seed = config.corpus, config.train.seed
    pairs = read.splits["all"]
    dropped = dict(read.file_reports["all"]["dropped"])
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
        raise CorpusFormatError(f"{corpus.source}: no pairs left after the length filters")
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


def _describe(files: dict[str, Path]) -> str:
    paths = sorted(str(path) for path in files.values())
    return paths[0] if len(paths) == 1 else f"{paths[0]} and {len(paths) - 1} more"


def assign_validation_split(table: pd.DataFrame, valid_fraction: float, seed: int) -> pd.DataFrame:
    """Move a seeded random ``valid_fraction`` of the train rows to split ``valid``."""
    table = table.copy()
    train_index = table.index[table["split"] == "train"].to_numpy()
    n_valid = int(round(len(train_index) * valid_fraction))
    chosen = np.random.default_rng(seed).permutation(train_index)[:n_valid]
    table.loc[chosen, "split"] = "valid"
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
    }
