"""Tab-separated pairs such as ``fra.txt`` (``english<TAB>french[<TAB>attribution]``): one file, or
a folder of files matching ``corpus.file_glob``."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pipeline.corpora.base import CorpusRead, CorpusReader, PairSection, files_in
from pipeline.corpora.errors import CorpusFormatError
from pipeline.corpora.pairs import decode_lines, pairs_frame, pairs_read

if TYPE_CHECKING:
    import pandas as pd


class TsvPairsCorpus(PairSection):
    name: Literal["tsv_pairs"] = "tsv_pairs"
    file_glob: str = "*.txt"
    tsv_columns: tuple[int, int] = (0, 1)
    """Which tab-separated columns hold the source and the target sentence."""


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
    lines = decode_lines(raw, str(path))
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
    return pairs_frame(records)


class TsvPairsReader(CorpusReader):
    """Tab-separated pairs (``fra.txt``): ``corpus.source`` is the file or a folder of ``file_glob``."""

    name = "tsv_pairs"
    Section = TsvPairsCorpus

    def locate(self, folder: Path, corpus: TsvPairsCorpus) -> dict[str, Path]:
        if folder.is_file():
            return {folder.name: folder}
        found = files_in(folder, lambda path: fnmatch.fnmatch(path.name, corpus.file_glob))
        if not found:
            raise CorpusFormatError(f"{folder}: no files match corpus.file_glob {corpus.file_glob!r}")
        return found

    def read(self, files: dict[str, Path], corpus: TsvPairsCorpus) -> CorpusRead:
        stats = TsvStats()
        source_column, target_column = corpus.tsv_columns
        frames = [read_tsv_pairs(path, source_column, target_column, stats) for _, path in sorted(files.items())]
        quirks = {"unterminated_last_line": stats.unterminated_last_line} if stats.unterminated_last_line else {}
        return pairs_read(frames, files, quirks)


READER = TsvPairsReader()
