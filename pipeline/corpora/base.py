"""What every corpus reader shares: its config section's common fields, the reader interface, the
rows it hands to ingestion.

A reader is one file under ``pipeline/corpora/readers/`` (the file name is the reader's name,
``corpus.name``) that defines ``READER``: a ``CorpusReader`` whose ``Section`` declares exactly
the ``corpus.*`` fields it reads. Pandas is imported inside functions: config validation imports
every reader's section, and DAG parsing validates configs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from models.config import FrozenConfig
from pipeline.names import CLASSIFICATION, TRANSLATION

if TYPE_CHECKING:
    import pandas as pd


class CorpusSection(FrozenConfig):
    """``corpus:`` fields every reader reads; each reader's section adds its own."""

    kind: ClassVar[str] = CLASSIFICATION
    name: str
    """The reader: the file name of pipeline/corpora/readers/<name>.py."""
    source: str | None = None
    """A local file or folder holding the corpus; None downloads it (downloadable readers only)."""
    valid_fraction: float = Field(0.1, ge=0.0, lt=0.5)
    """Fraction of the train rows held out as the validation split (seeded, recorded)."""
    drop_train_duplicates: bool = True
    """Repeated train documents (or pairs) are dropped: they overweight a few rows. A published test file is kept
    whole (its repeats are only counted)."""


class ClassificationSection(CorpusSection):
    max_rows_per_split: int | None = Field(None, gt=0)
    """Keep at most this many rows of each split (sampled with the seed; null: all)."""


class DownloadSection(ClassificationSection):
    """A corpus that can be downloaded: every file has a URL and a recorded digest."""

    urls: dict[str, str] = Field(default_factory=dict)
    """File name -> download URL."""
    sha256: dict[str, str] = Field(default_factory=dict)
    """File name -> the recorded sha256 every download is checked against."""
    md5: dict[str, str] = Field(default_factory=dict)
    """Only for files whose publisher records no sha256 (Keras' reuters_word_index.json)."""
    download_timeout_seconds: float = Field(30.0, gt=0)
    """Seconds before a download attempt gives up."""


class PairSection(CorpusSection):
    """Translation pairs: which side is which, how pairs are filtered and split. Lengths are
    whitespace words of each side."""

    kind: ClassVar[str] = TRANSLATION
    source_lang: str = "ko"
    """The source side's language code."""
    target_lang: str = "en"
    """The target side's language code."""
    min_words: int = Field(1, ge=1)
    """Pairs with a side shorter than this many words are dropped."""
    max_words: int | None = Field(None, ge=1)
    """Pairs with a side longer than this many words are dropped."""
    test_fraction: float = Field(0.1, ge=0.0, lt=0.5)
    """Share of the pairs held out as the test split (seeded)."""
    max_pairs: int | None = Field(None, gt=0)
    """Keep at most this many pairs (after filtering, a seeded sample): for quick runs."""


# Fields that say where the files come from, not what the table holds: left out of cache keys.
LOCATION_FIELDS = frozenset({"source", "urls", "sha256", "md5", "download_timeout_seconds"})


@dataclass
class CorpusRead:
    """What a reader hands to ingestion. Classification: splits "train" and "test" with columns
    id, text, label (ids into ``label_names``). Translation: one split "all" with columns id,
    source, target, domain, origin."""

    splits: dict[str, pd.DataFrame]
    label_names: list[str]
    file_reports: dict[str, dict] = field(default_factory=dict)
    """per split: files, rows read, dropped"""


class CorpusReader:
    name = "base"
    Section: type[CorpusSection] = CorpusSection
    files: tuple[str, ...] = ()
    """Files a source folder must hold (or that are downloaded)."""
    downloadable = False

    @property
    def kind(self) -> str:
        return self.Section.kind

    def locate(self, source: Path, corpus: CorpusSection) -> dict[str, Path]:
        """File name -> path inside a local source folder."""
        if not source.is_dir():
            raise FileNotFoundError(f"corpus.source {source}: not a folder")
        return {name: source / name for name in self.files}

    def read(self, files: dict[str, Path], corpus: CorpusSection) -> CorpusRead:
        raise NotImplementedError


def files_in(folder: Path, wanted: Callable[[Path], bool]) -> dict[str, Path]:
    """Relative name -> path of every file below ``folder`` that ``wanted`` accepts."""
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus.source {folder}: not a folder")
    return {str(path.relative_to(folder)): path for path in sorted(folder.rglob("*"))
            if path.is_file() and wanted(path)}


# The text columns of a CorpusRead (classification: text; translation: source and target).
TEXT_COLUMNS = ("text", "source", "target")
# C0 control characters but tab, newline and carriage return, and DEL: NUL above all, which a
# truncated or zero-padded file leaves and which tokenizers treat inconsistently.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def scrub_control_characters(read: CorpusRead) -> CorpusRead:
    """Control characters removed from the text columns of every split, the rows changed counted
    under the split's ``repaired``, and rows left with no text dropped and counted under
    ``dropped`` (the report shows both; nothing passes uncounted)."""
    for split, frame in read.splits.items():
        report = read.file_reports.setdefault(split, {})
        for column in (c for c in TEXT_COLUMNS if c in frame.columns):
            values = frame[column].astype(str)
            dirty = values.str.contains(_CONTROL)
            if not dirty.any():
                continue
            frame = frame.assign(**{column: values.str.replace(_CONTROL, "", regex=True)})
            repaired = report.setdefault("repaired", {})
            repaired[f"control_characters_in_{column}"] = int(dirty.sum())
            emptied = dirty & (frame[column].str.strip() == "")
            if emptied.any():
                frame = frame[~emptied].reset_index(drop=True)
                dropped = report.setdefault("dropped", {})
                dropped[f"only_control_characters_in_{column}"] = int(emptied.sum())
        read.splits[split] = frame
    return read


def drop_repeated_texts(frame: pd.DataFrame, dropped: Counter) -> pd.DataFrame:
    repeated = frame["text"].duplicated()
    dropped["duplicate_document"] += int(repeated.sum())
    return frame[~repeated]
