"""Layer: corpora. Corpus readers by name: ``pipeline/corpora/readers/<name>.py`` defines ``READER``.

Names are the file names, listed without importing anything, so adding a reader is adding a file.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.corpora.base import CorpusReader, CorpusSection

_READERS_DIR = Path(__file__).parent / "readers"


@functools.cache
def reader_names() -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in _READERS_DIR.glob("*.py") if not path.stem.startswith("_")))


def corpus_reader(name: str) -> CorpusReader:
    if name not in reader_names():
        raise ValueError(f"corpus.name {name!r}: expected one of {list(reader_names())}")
    return importlib.import_module(f"pipeline.corpora.readers.{name}").READER


def corpus_sections() -> list[type[CorpusSection]]:
    """Every reader's config section: the members of the config's ``corpus`` union."""
    return [corpus_reader(name).Section for name in reader_names()]
