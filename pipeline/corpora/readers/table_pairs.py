"""A user's own translation pairs in one table (CSV, TSV, JSON Lines, Parquet or Excel):

    corpus:
      name: table_pairs
      source: pairs.xlsx
      source_column: 원문
      target_column: 번역문

Ingestion splits the pairs by source sentence (``test_fraction``). A pair with an empty side is
dropped and counted (the validation checks decide whether too many were).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Literal

from pipeline.corpora.base import CorpusRead, CorpusReader, PairSection
from pipeline.corpora.pairs import RELEASE_SUFFIX, pairs_frame
from pipeline.corpora.tables import ROW, ColumnRef, TableFiles, load_table, one_file, resolve_column


class TablePairsCorpus(TableFiles, PairSection):
    name: Literal["table_pairs"] = "table_pairs"
    source_column: ColumnRef
    target_column: ColumnRef
    # Each pair's domain (reported per domain); None: the file's name.
    domain_column: ColumnRef | None = None


class TablePairsReader(CorpusReader):
    name = "table_pairs"
    Section = TablePairsCorpus

    def locate(self, source: Path, corpus: TablePairsCorpus) -> dict[str, Path]:
        return {source.name: one_file(source, "source")}

    def read(self, files: dict[str, Path], corpus: TablePairsCorpus) -> CorpusRead:
        [(name, path)] = files.items()
        rows = load_table(path, corpus)
        source = rows[resolve_column(rows, corpus.source_column, path, "source_column")]
        target = rows[resolve_column(rows, corpus.target_column, path, "target_column")]
        domain = (rows[resolve_column(rows, corpus.domain_column, path, "domain_column")]
                  if corpus.domain_column is not None else None)
        dropped = Counter()
        records = []
        for index, row_number in enumerate(rows[ROW]):
            if not source.iat[index] or not target.iat[index]:
                dropped["empty_source" if not source.iat[index] else "empty_target"] += 1
                continue
            records.append((f"{path.stem}-{row_number}", source.iat[index], target.iat[index],
                            domain.iat[index] if domain is not None else RELEASE_SUFFIX.sub("", path.stem),
                            f"{path.name}:{row_number}"))
        return CorpusRead({"all": pairs_frame(records)}, [],
                          {"all": {"files": [str(path)], "rows_read": len(rows), "dropped": dict(dropped),
                                   "repaired": {}}})


READER = TablePairsReader()
