"""Helpers the parallel-corpus readers share: the pair table's columns and strict line decoding.

Every pair reader returns rows ``(id, source, target, domain, origin)`` where ``origin`` is
``file:row`` (or ``file:line``), so a later error or a report can point at the exact input.
Misalignment is an error naming the file: unequal line counts, a row with an empty side, a
missing column. Nothing is silently dropped; what the length filters and de-duplication remove is
counted by ingestion.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pipeline.corpora.base import CorpusRead
from pipeline.corpora.errors import CorpusFormatError

if TYPE_CHECKING:
    import pandas as pd

PAIR_COLUMNS = ["id", "source", "target", "domain", "origin"]
# AI Hub names some copies "<name>_200226.xlsx" and some "<name>.xlsx"; line-aligned releases do
# the same: the domain is the name without that release-date suffix.
RELEASE_SUFFIX = re.compile(r"_\d{6}$")


def pairs_frame(records: list[tuple]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(records, columns=PAIR_COLUMNS)


def decode_lines(raw: bytes, name: str) -> list[str]:
    """UTF-8 lines (a BOM and CRs removed); a byte that is not UTF-8 is an error naming the line."""
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


def pairs_read(frames: list[pd.DataFrame], files: dict, quirks: dict) -> CorpusRead:
    """All pairs as one split, ``all``: ingestion splits them by source sentence."""
    import pandas as pd

    pairs = pd.concat(frames, ignore_index=True)
    return CorpusRead({"all": pairs}, [], {"all": {"files": sorted(files), "rows_read": len(pairs),
                                                    "dropped": quirks, "repaired": {}}})
