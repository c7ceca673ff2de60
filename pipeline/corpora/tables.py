"""Reading a user's table (CSV, TSV, JSON Lines, Parquet, Excel) into strings, strictly.

Every cell comes back as a string ("" for a missing one), so labels read the same from a CSV
("1"), an Excel sheet (1.0) or Parquet (int64), and every error names the file, the row
(spreadsheet numbering: the header is row 1) and the column. Columns are referred to by header
name, or by 0-based position when the table has no header; ``__row__`` holds each row's number.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from models.config import FrozenConfig
from pipeline.corpora.errors import CorpusFormatError

if TYPE_CHECKING:
    import pandas as pd

TABLE_FORMATS = ("csv", "tsv", "jsonl", "parquet", "xlsx")
ENCODINGS = ("utf-8", "utf-8-sig", "cp949")
SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "tsv", ".jsonl": "jsonl",
                  ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
ROW = "__row__"
ColumnRef = str | int


class TableFiles(FrozenConfig):
    """How table files are read: the ``corpus`` fields a classification table and a pair table share.
    Format "auto" goes by the file suffix."""

    format: Literal[("auto",) + TABLE_FORMATS] = "auto"
    header: bool = True
    encoding: Literal[ENCODINGS] = "utf-8"
    # CSV only (TSV is tab-separated); None: a comma.
    delimiter: str | None = Field(None, min_length=1, max_length=1)
    # Excel only; None: the first sheet.
    sheet: str | None = None


def one_file(path: Path, field: str) -> Path:
    if path.is_dir():
        raise CorpusFormatError(f"corpus.{field} {path}: a folder; the table reader reads one file "
                                f"(for a folder of .txt files per label use corpus.name: text_folder)")
    if not path.is_file():
        raise CorpusFormatError(f"corpus.{field} {path}: file not found")
    return path


def table_format(path: Path, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    found = SUFFIX_FORMATS.get(path.suffix.lower())
    if found is None:
        raise CorpusFormatError(f"{path}: cannot tell the table format from the suffix {path.suffix!r}; "
                                f"set corpus.format to one of {list(TABLE_FORMATS)}")
    return found


def load_table(path: Path, layout: TableFiles | None = None) -> pd.DataFrame:
    """The table's cells as strings, columns named by the header (or "0", "1", ... without one)."""
    layout = layout or TableFiles()
    if not path.is_file():
        raise CorpusFormatError(f"{path}: file not found" if not path.exists() else f"{path}: not a file")
    fmt = table_format(path, layout.format)
    if path.stat().st_size == 0:
        raise CorpusFormatError(f"{path}: empty file")
    reader = {"csv": _read_delimited, "tsv": _read_delimited, "jsonl": _read_jsonl,
              "parquet": _read_parquet, "xlsx": _read_xlsx}[fmt]
    frame = reader(path, layout, fmt)
    if frame.empty:
        raise CorpusFormatError(f"{path}: no data rows" + (" below the header" if layout.header else ""))
    return frame


def resolve_column(frame: pd.DataFrame, ref: ColumnRef, path: Path, field: str) -> str:
    """The frame's column for a config reference (a header name, or a 0-based position)."""
    columns = [column for column in frame.columns if column != ROW]
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit() and ref not in columns):
        position = int(ref)
        if not 0 <= position < len(columns):
            raise CorpusFormatError(f"{path}: corpus.{field}: column {position} does not exist "
                                    f"(the table has {len(columns)} columns, 0 to {len(columns) - 1})")
        return columns[position]
    if ref not in columns:
        raise CorpusFormatError(f"{path}: corpus.{field}: no column {ref!r}; the header has {columns}")
    return ref


def decode(raw: bytes, path: Path, encoding: str) -> str:
    """Decode the whole file; on failure name the row and suggest the encoding that would work."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        row = raw[: exc.start].count(b"\n") + 1
        working = [other for other in ENCODINGS if other != encoding and _decodes(raw, other)]
        hint = (f"; it decodes as {working[0]!r}: set corpus.encoding: {working[0]}" if working
                else f"; none of {list(ENCODINGS)} decodes it")
        raise CorpusFormatError(f"{path}: row {row}: byte 0x{raw[exc.start]:02x} is not {encoding}{hint}") from None
    return text.removeprefix("\ufeff")


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _read_delimited(path: Path, layout: TableFiles, fmt: str) -> pd.DataFrame:
    import csv

    import pandas as pd

    text = decode(path.read_bytes(), path, layout.encoding)
    if not text.strip():
        raise CorpusFormatError(f"{path}: empty file")
    tab = fmt == "tsv"
    sep = "\t" if tab else (layout.delimiter or ",")
    try:
        # TSV fields are taken literally (quotes are text in reviews and SMS); CSV follows RFC 4180.
        # The header is read as a row: pandas would rename a repeated column ("a", "a.1") silently.
        frame = pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str,
                            keep_default_na=False, na_filter=False, skip_blank_lines=True,
                            quoting=csv.QUOTE_NONE if tab else csv.QUOTE_MINIMAL, engine="c")
    except pd.errors.ParserError as exc:
        raise CorpusFormatError(f"{path}: not a well-formed {fmt.upper()} table: {_parser_reason(exc)}") from None
    except pd.errors.EmptyDataError:
        raise CorpusFormatError(f"{path}: empty file") from None
    if layout.header:
        frame.columns = _column_names(frame.iloc[0].tolist(), path, header=True)
        frame = frame.iloc[1:]
    else:
        frame.columns = _column_names(frame.columns, path, header=False)
    return _numbered(frame, first_row=2 if layout.header else 1)


def _parser_reason(exc: Exception) -> str:
    # pandas says "Error tokenizing data. C error: Expected 2 fields in line 7, saw 3": keep the useful part.
    message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return message.split("C error: ")[-1]


def _read_jsonl(path: Path, layout: TableFiles, fmt: str) -> pd.DataFrame:
    import pandas as pd

    records, rows = [], []
    for number, line in enumerate(decode(path.read_bytes(), path, layout.encoding).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusFormatError(f"{path}: line {number}: not JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(record, dict):
            raise CorpusFormatError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
        records.append({str(key): cell_text(value) for key, value in record.items()})
        rows.append(number)
    frame = pd.DataFrame.from_records(records).fillna("") if records else pd.DataFrame()
    frame[ROW] = rows
    return frame


def _read_parquet(path: Path, layout: TableFiles, fmt: str) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise CorpusFormatError(f"{path}: not a readable Parquet file: {exc}") from None
    frame = frame.astype(object).map(cell_text)
    frame.columns = [str(column) for column in frame.columns]
    return _numbered(frame, first_row=1)


def _read_xlsx(path: Path, layout: TableFiles, fmt: str) -> pd.DataFrame:
    import openpyxl
    import pandas as pd

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a file that is not a workbook
        raise CorpusFormatError(f"{path}: not a readable .xlsx workbook: {exc}") from None
    try:
        if layout.sheet is None:
            sheet = workbook.worksheets[0]
        elif layout.sheet in workbook.sheetnames:
            sheet = workbook[layout.sheet]
        else:
            raise CorpusFormatError(f"{path}: corpus.sheet: no sheet {layout.sheet!r}; "
                                    f"the workbook has {workbook.sheetnames}")
        rows = [[cell_text(cell) for cell in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    numbers = [number for number, row in enumerate(rows, start=1) if any(row)]
    if not numbers:
        raise CorpusFormatError(f"{path}: empty sheet")
    width = max(len(row) for row in rows)
    padded = {number: rows[number - 1] + [""] * (width - len(rows[number - 1])) for number in numbers}
    if layout.header:
        header_number, *numbers = numbers
        columns = _column_names(padded[header_number], path, header=True)
    else:
        columns = [str(position) for position in range(width)]
    frame = pd.DataFrame([padded[number] for number in numbers], columns=columns)
    frame[ROW] = numbers
    return frame


def _column_names(columns, path: Path, header: bool) -> list[str]:
    if not header:
        return [str(position) for position in range(len(columns))]
    names = [str(column).strip() for column in columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise CorpusFormatError(f"{path}: row 1: the header repeats column(s) {repeated}")
    return names


def _numbered(frame: pd.DataFrame, first_row: int) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame[ROW] = range(first_row, first_row + len(frame))
    return frame


def cell_text(value) -> str:
    """A cell as text: None/NaN -> "", 1.0 -> "1" (Excel and Parquet store integer labels as floats)."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    if isinstance(value, bool):
        return str(value).lower()
    return str(value).strip()
