"""AI Hub Korean-English parallel corpus: ``.xlsx`` workbooks with columns ``SID``, ``원문``
(Korean) and ``번역문`` (English), found by ``corpus.file_glob`` and read by column name (one
release has an extra unnamed column). AI Hub needs a login: always a local folder."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Literal

from pydantic import Field

from pipeline.corpora.base import CorpusRead, CorpusReader, PairSection, files_in
from pipeline.corpora.errors import CorpusFormatError
from pipeline.corpora.pairs import RELEASE_SUFFIX, pairs_frame, pairs_read

# Column roles -> the header names AI Hub uses.
DEFAULT_COLUMNS = {"id": "SID", "source": "원문", "target": "번역문"}


class AihubCorpus(PairSection):
    name: Literal["aihub"] = "aihub"
    file_glob: str = "*.xlsx"
    columns: dict[Literal["id", "source", "target"], str] = Field(default_factory=lambda: dict(DEFAULT_COLUMNS))


def aihub_domain(path: Path) -> str:
    return RELEASE_SUFFIX.sub("", path.stem)


def read_aihub_workbook(path: Path, columns: dict[str, str] = DEFAULT_COLUMNS):
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a file that is not a workbook
        raise CorpusFormatError(f"{path}: not a readable .xlsx workbook: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise CorpusFormatError(f"{path}: empty sheet (expected a header with {columns['source']!r}, "
                                    f"{columns['target']!r})")
        names = [str(cell).strip() if cell is not None else "" for cell in header]
        positions = {}
        for role in ("id", "source", "target"):
            wanted = columns[role]
            if wanted not in names:
                raise CorpusFormatError(f"{path}: no column {wanted!r} in header {names}")
            positions[role] = names.index(wanted)
        domain = aihub_domain(path)
        records = []
        for row_number, row in enumerate(rows, start=2):
            if row is None or all(cell is None or str(cell).strip() == "" for cell in row):
                continue  # trailing blank rows that Excel keeps in the sheet's range
            values = {role: _cell(row, index) for role, index in positions.items()}
            for side in ("source", "target"):
                if not values[side]:
                    raise CorpusFormatError(f"{path}:{row_number}: empty {columns[side]!r} cell "
                                            f"(SID {values['id'] or '?'})")
            records.append((values["id"] or f"{domain}-{row_number}", values["source"], values["target"], domain,
                            f"{path.name}:{row_number}"))
    finally:
        workbook.close()
    return pairs_frame(records)


def _cell(row: tuple, index: int) -> str:
    value = row[index] if index < len(row) else None
    return "" if value is None else str(value).strip()


class AihubReader(CorpusReader):
    """AI Hub Korean-English .xlsx files: ``corpus.file_glob`` in the folder, columns by name."""

    name = "aihub"
    Section = AihubCorpus

    def locate(self, folder: Path, corpus: AihubCorpus) -> dict[str, Path]:
        # "~$name.xlsx" is Excel's lock file beside an open workbook, not data.
        found = files_in(folder, lambda path: fnmatch.fnmatch(path.name, corpus.file_glob)
                          and not path.name.startswith("~$"))
        if not found:
            raise CorpusFormatError(f"{folder}: no files match corpus.file_glob {corpus.file_glob!r} "
                                    f"(the AI Hub Korean-English .xlsx files)")
        return found

    def read(self, files: dict[str, Path], corpus: AihubCorpus) -> CorpusRead:
        columns = {**DEFAULT_COLUMNS, **corpus.columns}
        return pairs_read([read_aihub_workbook(path, columns) for _, path in sorted(files.items())], files, {})


READER = AihubReader()
