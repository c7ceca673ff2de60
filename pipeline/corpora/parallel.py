"""Parallel corpora for translation: AI Hub ``.xlsx`` folders, line-aligned files, tab-separated pairs.

Every reader returns rows ``(id, source, target, domain, origin)`` where ``origin`` is
``file:row`` (or ``file:line``), so a later error or a report can point at the exact input.
Misalignment is an error naming the file: unequal line counts, a row with an empty side, a
missing column. Nothing is silently dropped; what the length filters and de-duplication remove is
counted by the ingest stage.
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd

from pipeline.corpora.errors import CorpusFormatError

COLUMNS = ["id", "source", "target", "domain", "origin"]
# AI Hub names some copies "<name>_200226.xlsx" and some "<name>.xlsx": the domain is the name
# without that release-date suffix.
_RELEASE_SUFFIX = re.compile(r"_\d{6}$")


@dataclass(frozen=True)
class AihubColumns:
    id: str = "SID"
    source: str = "원문"
    target: str = "번역문"


def aihub_domain(path: Path) -> str:
    return _RELEASE_SUFFIX.sub("", path.stem)


def read_aihub_workbook(path: Path, columns: AihubColumns = AihubColumns()) -> pd.DataFrame:
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
            raise CorpusFormatError(f"{path}: empty sheet (expected a header with {columns.source!r}, {columns.target!r})")
        names = [str(cell).strip() if cell is not None else "" for cell in header]
        positions = {}
        for role in ("id", "source", "target"):
            wanted = getattr(columns, role)
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
                    raise CorpusFormatError(f"{path}:{row_number}: empty {getattr(columns, side)!r} cell "
                                            f"(SID {values['id'] or '?'})")
            records.append((values["id"] or f"{domain}-{row_number}", values["source"], values["target"], domain,
                            f"{path.name}:{row_number}"))
    finally:
        workbook.close()
    return pd.DataFrame(records, columns=COLUMNS)


def _cell(row: tuple, index: int) -> str:
    value = row[index] if index < len(row) else None
    return "" if value is None else str(value).strip()


def read_line_aligned(source: Path, target: Path, domain: str | None = None) -> pd.DataFrame:
    """Line i of ``source`` translates to line i of ``target``."""
    return _aligned(_read_lines(source), _read_lines(target), str(source), str(target),
                    domain or _RELEASE_SUFFIX.sub("", source.stem))


def read_line_aligned_files(paths: Iterable[Path], source_lang: str, target_lang: str) -> tuple[pd.DataFrame, dict]:
    """Every ``<name>.<source_lang>`` with its ``<name>.<target_lang>``; ``.tar.gz`` archives are
    searched for such pairs inside. A source file without its target is an error; a target file
    without a source (its partner is in another language) is skipped and counted."""
    paths = sorted(Path(path) for path in paths)
    available = set(paths)
    frames = []
    for source in (path for path in paths if path.suffix == f".{source_lang}"):
        target = source.with_suffix(f".{target_lang}")
        if target not in available:
            raise CorpusFormatError(f"{source}: no aligned {target.name} beside it")
        frames.append(read_line_aligned(source, target, domain=source.stem))
    unpaired_targets = sum(1 for path in paths if path.suffix == f".{target_lang}"
                           and path.with_suffix(f".{source_lang}") not in available)
    for archive in (path for path in paths if path.name.endswith(".tar.gz")):
        frames.extend(_read_tar_pairs(archive, source_lang, target_lang))
    if not frames:
        raise CorpusFormatError(f"no *.{source_lang} / *.{target_lang} pairs (plain or in .tar.gz) among "
                                f"{[str(path) for path in paths][:5]}")
    quirks = {"target_file_without_source_file": unpaired_targets} if unpaired_targets else {}
    return pd.concat(frames, ignore_index=True), quirks


def _read_tar_pairs(archive: Path, source_lang: str, target_lang: str) -> list[pd.DataFrame]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {member.name: member for member in tar.getmembers() if member.isfile()}
            frames = []
            for name in sorted(members):
                if not name.endswith(f".{source_lang}"):
                    continue
                target_name = name[: -len(source_lang)] + target_lang
                if target_name not in members:
                    raise CorpusFormatError(f"{archive}!{name}: no aligned {target_name} in the archive")
                source_lines = _decode_lines(tar.extractfile(members[name]).read(), f"{archive}!{name}")
                target_lines = _decode_lines(tar.extractfile(members[target_name]).read(), f"{archive}!{target_name}")
                frames.append(_aligned(source_lines, target_lines, f"{archive}!{name}", f"{archive}!{target_name}",
                                       Path(name).stem))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CorpusFormatError(f"{archive}: not a readable .tar.gz: {exc}") from exc
    return frames


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise CorpusFormatError(f"{path}: file not found")
    return _decode_lines(path.read_bytes(), str(path))


def _decode_lines(raw: bytes, name: str) -> list[str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CorpusFormatError(f"{name}:{line}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _aligned(sources: list[str], targets: list[str], source_name: str, target_name: str,
             domain: str) -> pd.DataFrame:
    if len(sources) != len(targets):
        raise CorpusFormatError(f"{source_name} has {len(sources):,} lines but {target_name} has "
                                f"{len(targets):,}: the files are not line-aligned")
    records = []
    for number, (source, target) in enumerate(zip(sources, targets), start=1):
        source, target = source.strip(), target.strip()
        if not source or not target:
            empty = source_name if not source else target_name
            raise CorpusFormatError(f"{empty}:{number}: empty line in a line-aligned pair")
        records.append((f"{domain}-{number}", source, target, domain, f"{Path(source_name).name}:{number}"))
    return pd.DataFrame(records, columns=COLUMNS)


@dataclass
class TsvStats:
    unterminated_last_line: int = 0


def read_tsv_pairs(path: Path, source_column: int = 0, target_column: int = 1,
                   stats: TsvStats | None = None) -> pd.DataFrame:
    """Tab-separated pairs such as ``fra.txt`` (``english<TAB>french[<TAB>attribution]``).

    A last line without its newline is a cut-off download (the published files end with one):
    it is dropped and counted, never trusted.
    """
    stats = stats if stats is not None else TsvStats()
    if not path.is_file():
        raise CorpusFormatError(f"{path}: file not found")
    raw = path.read_bytes()
    lines = _decode_lines(raw, str(path))
    if raw and not raw.endswith(b"\n") and lines:
        lines.pop()
        stats.unterminated_last_line += 1
    records = []
    needed = max(source_column, target_column) + 1
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < needed:
            raise CorpusFormatError(f"{path}:{number}: expected at least {needed} tab-separated columns, "
                                    f"got {len(fields)}: {line[:80]!r}")
        source, target = fields[source_column].strip(), fields[target_column].strip()
        if not source or not target:
            raise CorpusFormatError(f"{path}:{number}: empty {'source' if not source else 'target'} column")
        records.append((f"{path.stem}-{number}", source, target, path.stem, f"{path.name}:{number}"))
    return pd.DataFrame(records, columns=COLUMNS)


def pair_lengths(texts: Iterable[str]) -> list[int]:
    """Whitespace words: the unit of the length filters (tokenizer-independent, so cheap and stable)."""
    return [len(text.split()) for text in texts]
