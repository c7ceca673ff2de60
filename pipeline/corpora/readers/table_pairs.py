"""A user's own translation pairs in tables (CSV, TSV, JSON Lines, Parquet or Excel): one file, or
a folder of files matching ``file_glob``:

    corpus:
      name: table_pairs
      source: pairs.xlsx
      source_column: 원문
      target_column: 번역문

Ingestion splits the pairs by source sentence (``test_fraction``). A pair with an empty side is
dropped and counted (the validation checks decide whether too many were). Without a
``domain_column`` a pair's domain is its file's name without a release-date suffix.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from pathlib import Path
from typing import Literal

from pipeline.corpora.base import CorpusRead, CorpusReader, PairSection, files_in
from pipeline.corpora.errors import CorpusFormatError
from pipeline.corpora.pairs import RELEASE_SUFFIX, pairs_frame, pairs_read
from pipeline.corpora.tables import (
    ROW,
    SUFFIX_FORMATS,
    ColumnRef,
    TableFiles,
    load_table,
    resolve_column,
)


class TablePairsCorpus(TableFiles, PairSection):
    name: Literal["table_pairs"] = "table_pairs"
    file_glob: str = "*"
    """With a folder as `source`: the files to read (Excel's "~$" lock files are skipped)."""
    source_column: ColumnRef
    target_column: ColumnRef
    id_column: ColumnRef | None = None
    """Each pair's id; None: "<file stem>-<row>"."""
    domain_column: ColumnRef | None = None
    """Each pair's domain (reported per domain); None: the file's name without a release suffix."""


def file_domain(path: Path) -> str:
    return RELEASE_SUFFIX.sub("", path.stem)


def read_pair_table(path: Path, corpus: TablePairsCorpus, dropped: Counter):
    rows = load_table(path, corpus)
    columns = {role: resolve_column(rows, ref, path, f"{role}_column")
               for role, ref in (("source", corpus.source_column), ("target", corpus.target_column),
                                 ("id", corpus.id_column), ("domain", corpus.domain_column)) if ref is not None}
    records = []
    for _, row in rows.iterrows():
        source, target = row[columns["source"]], row[columns["target"]]
        if not source or not target:
            dropped["empty_source" if not source else "empty_target"] += 1
            continue
        row_id = row[columns["id"]] if "id" in columns and row[columns["id"]] else f"{path.stem}-{row[ROW]}"
        domain = row[columns["domain"]] if "domain" in columns else file_domain(path)
        records.append((row_id, source, target, domain, f"{path.name}:{row[ROW]}"))
    return pairs_frame(records)


class TablePairsReader(CorpusReader):
    name = "table_pairs"
    Section = TablePairsCorpus

    def locate(self, source: Path, corpus: TablePairsCorpus) -> dict[str, Path]:
        if source.is_file():
            return {source.name: source}
        found = files_in(source, lambda path: fnmatch.fnmatch(path.name, corpus.file_glob)
                         and not path.name.startswith("~$")
                         and (corpus.format != "auto" or path.suffix.lower() in SUFFIX_FORMATS))
        if not found:
            raise CorpusFormatError(f"{source}: no table files match corpus.file_glob {corpus.file_glob!r}")
        return found

    def read(self, files: dict[str, Path], corpus: TablePairsCorpus) -> CorpusRead:
        dropped = Counter()
        frames = [read_pair_table(path, corpus, dropped) for _, path in sorted(files.items())]
        return pairs_read(frames, files, {reason: count for reason, count in dropped.items() if count})


READER = TablePairsReader()
