"""NSMC (Naver sentiment movie corpus): TSV files ``id<TAB>document<TAB>label``.

Reading is strict about what would make labels wrong (a bad header, a label outside {0, 1}, a
byte that is not UTF-8: each is an error naming file and line) and lenient, but never silent,
about the quirks of the real files: empty documents, duplicates, tabs and quotes inside a
document. Every such row is counted in the validation report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pipeline.corpora.base import CorpusRead, CorpusReader, DownloadSection
from pipeline.corpora.errors import CorpusFormatError

if TYPE_CHECKING:
    import pandas as pd

SPLIT_FILES = {"train": "ratings_train.txt", "test": "ratings_test.txt"}
HEADER = ["id", "document", "label"]
HEADER_LINE = "\t".join(HEADER)
LABELS = {"0": 0, "1": 1}
LABEL_NAMES = ["negative", "positive"]


@dataclass
class ParseStats:
    """What reading one file found and did, for the validation report."""

    rows_read: int = 0
    dropped: Counter = field(default_factory=Counter)
    repaired: Counter = field(default_factory=Counter)


def parse_file(path: Path) -> tuple[pd.DataFrame, ParseStats]:
    """Parse one NSMC file into (id, text, label) rows, dropping only what cannot be used."""
    import numpy as np
    import pandas as pd

    if not path.is_file():
        raise CorpusFormatError(f"{path}: file not found")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusFormatError(f"{path}: cannot read: {exc}") from exc
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    stats = ParseStats()
    ids: list[str] = []
    texts: list[str] = []
    labels: list[int] = []
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise CorpusFormatError(f"{path}: empty file (expected header {HEADER_LINE!r})")
    for line_number, line_bytes in enumerate(lines, start=1):
        try:
            line = line_bytes.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            raise CorpusFormatError(
                f"{path}:{line_number}: not UTF-8 (byte 0x{line_bytes[exc.start]:02x} at column {exc.start + 1})"
            ) from None
        if line_number == 1:
            if line.split("\t") != HEADER:
                raise CorpusFormatError(
                    f"{path}:1: header is {line!r}, expected {HEADER_LINE!r}"
                )
            continue
        if not line.strip():
            stats.dropped["blank_line"] += 1
            continue
        stats.rows_read += 1
        fields = line.split("\t")
        if len(fields) < 2:
            raise CorpusFormatError(f"{path}:{line_number}: expected id, document and label separated by tabs")
        row_id, raw_label = fields[0].strip(), fields[-1].strip()
        if raw_label not in LABELS and len(fields) != 3:
            # Not a bad label but a row of the wrong shape (its last field is text): say that.
            raise CorpusFormatError(f"{path}:{line_number}: {len(fields)} tab-separated fields, expected id, "
                                    f"document and label; the last one, {raw_label[:40]!r}, is not a label (0 or 1)")
        if raw_label not in LABELS:
            raise CorpusFormatError(f"{path}:{line_number}: label {raw_label!r} is not 0 or 1")
        if not row_id:
            raise CorpusFormatError(f"{path}:{line_number}: empty id")
        if len(fields) == 2:
            stats.dropped["missing_document"] += 1
            continue
        if len(fields) > 3:
            stats.repaired["tab_inside_document"] += 1
        document = " ".join(fields[1:-1]).strip()
        if not document:
            stats.dropped["empty_document"] += 1
            continue
        if '"' in document:
            stats.repaired["quote_inside_document_kept_literally"] += 1
        ids.append(row_id)
        texts.append(document)
        labels.append(LABELS[raw_label])
    frame = pd.DataFrame({"id": ids, "text": texts, "label": np.asarray(labels, dtype=np.int64)})
    return frame, stats


def drop_duplicates(frame: pd.DataFrame, stats: ParseStats) -> pd.DataFrame:
    """Drop repeated ids and repeated documents (first kept) and count them."""
    repeated_id = frame["id"].duplicated()
    stats.dropped["duplicate_id"] += int(repeated_id.sum())
    frame = frame[~repeated_id]
    repeated_text = frame["text"].duplicated()
    stats.dropped["duplicate_document"] += int(repeated_text.sum())
    return frame[~repeated_text]


def count_duplicates(frame: pd.DataFrame, stats: ParseStats) -> None:
    """Count repeated ids and documents without dropping them."""
    for reason, column in (("duplicate_id_kept", "id"), ("duplicate_document_kept", "text")):
        if count := int(frame[column].duplicated().sum()):
            stats.repaired[reason] += count


class NsmcCorpus(DownloadSection):
    name: Literal["nsmc"] = "nsmc"


class NsmcReader(CorpusReader):
    name = "nsmc"
    Section = NsmcCorpus
    files = tuple(SPLIT_FILES.values())
    downloadable = True

    def read(self, files: dict[str, Path], corpus: NsmcCorpus) -> CorpusRead:
        splits, reports = {}, {}
        for split, name in SPLIT_FILES.items():
            path = files[name]
            frame, stats = parse_file(path)
            if split == "train" and corpus.drop_train_duplicates:
                frame = drop_duplicates(frame, stats)
            else:
                count_duplicates(frame, stats)
            splits[split] = frame
            reports[split] = {"file": str(path), "rows_read": stats.rows_read,
                              "dropped": dict(stats.dropped), "repaired": dict(stats.repaired)}
        return CorpusRead(splits, list(LABEL_NAMES), reports)


READER = NsmcReader()
