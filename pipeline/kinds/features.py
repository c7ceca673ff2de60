"""The features folder every task kind writes: content-addressed, written whole or not at all.

``<data_root>/processed/features/<key>/`` where the key covers the canonical table, the text
settings and the code version; a folder that exists is complete (it appears by one rename), so a
rerun with the same inputs reuses it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

from pipeline.config import PipelineConfig
from pipeline.io import atomic_dir, read_json, write_json
from pipeline.results import (
    FEATURES_FILE,
    SUMMARY_FILE,
    TEXT_SPEC_FILE,
    IngestResult,
    PreparedFeatures,
)
from pipeline.text.spec import TextSpec

log = logging.getLogger(__name__)

_Features = TypeVar("_Features", bound=PreparedFeatures)


def features_dir_for(config: PipelineConfig, key: str) -> Path:
    return config.data_dir() / "processed" / "features" / key


def cached_features(out_dir: Path, kind: type[_Features], ingested: IngestResult) -> _Features | None:
    """The folder's features if an earlier run wrote them, else None."""
    if not (out_dir / SUMMARY_FILE).is_file():
        return None
    log.info("features cache hit: %s", out_dir)
    return kind.from_xcom({**read_json(out_dir / SUMMARY_FILE), "features_dir": str(out_dir), "token_cache_hit": True,
                           "tokenize_seconds": 0.0, "data_digest": ingested.data_digest,
                           "test_digest": ingested.test_digest})


@contextlib.contextmanager
def save_features(out_dir: Path, result: PreparedFeatures, arrays: dict[str, np.ndarray],
                  text_spec: TextSpec) -> Iterator[Path]:
    """Write the id arrays, the text spec and the summary; yield the folder-to-be for the kind's own
    files (vocabularies...). It becomes ``out_dir`` only when the block ends without an error."""
    with atomic_dir(out_dir) as tmp:
        np.savez(tmp / FEATURES_FILE, **arrays)
        text_spec.write(tmp / TEXT_SPEC_FILE)
        yield tmp
        write_json(tmp / SUMMARY_FILE, dataclasses.asdict(result))
