"""AI Hub Korean-English parallel corpus: ``.xlsx`` workbooks with columns ``SID``, ``원문``
(Korean) and ``번역문`` (English), found by ``corpus.file_glob`` and read by column name (one
release has an extra unnamed column). A configuration of the pair-table reader with AI Hub's
names as defaults. AI Hub needs a login: always a local folder."""

from __future__ import annotations

from typing import Literal

from pipeline.corpora.readers.table_pairs import TablePairsCorpus, TablePairsReader
from pipeline.corpora.tables import ColumnRef


class AihubCorpus(TablePairsCorpus):
    name: Literal["aihub"] = "aihub"
    file_glob: str = "*.xlsx"
    source_column: ColumnRef = "원문"
    target_column: ColumnRef = "번역문"
    id_column: ColumnRef | None = "SID"


class AihubReader(TablePairsReader):
    name = "aihub"
    Section = AihubCorpus


READER = AihubReader()
