"""Keras' IMDB movie reviews: ``imdb.npz`` (25,000 train and 25,000 test reviews as word-rank
sequences, labels 0 negative / 1 positive) decoded to text with ``imdb_word_index.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pipeline.corpora.base import CorpusRead, CorpusReader, DownloadSection
from pipeline.corpora.errors import CorpusFormatError
from pipeline.corpora.keras_npz import (
    decode_ranks,
    decoded_split,
    load_verified_npz,
    load_word_index,
)

LABEL_NAMES = ["negative", "positive"]
NPZ_FILE, INDEX_FILE = "imdb.npz", "imdb_word_index.json"


class ImdbNpzCorpus(DownloadSection):
    name: Literal["imdb_npz"] = "imdb_npz"


class ImdbNpzReader(CorpusReader):
    name = "imdb_npz"
    Section = ImdbNpzCorpus
    files = (NPZ_FILE, INDEX_FILE)
    downloadable = True

    def read(self, files: dict[str, Path], corpus: ImdbNpzCorpus) -> CorpusRead:
        import numpy as np

        npz_path, index_path = files[NPZ_FILE], files[INDEX_FILE]
        words = load_word_index(index_path)
        splits, reports = {}, {}
        with load_verified_npz(npz_path, corpus) as arrays:
            for split in ("train", "test"):
                try:
                    sequences, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
                except (KeyError, ValueError) as exc:
                    raise CorpusFormatError(f"{npz_path}: not the Keras imdb.npz (arrays x_{split}, "
                                            f"y_{split}): {exc}") from None
                if len(sequences) != len(labels):
                    raise CorpusFormatError(f"{npz_path}: x_{split} has {len(sequences)} reviews but "
                                            f"y_{split} {len(labels)} labels")
                outside = np.flatnonzero((labels != 0) & (labels != 1))
                if outside.size:
                    raise CorpusFormatError(f"{npz_path}: y_{split}[{outside[0]}] is {labels[outside[0]]}, "
                                            f"not 0 or 1")
                rows, unknown = [], 0
                for i, ranks in enumerate(sequences):
                    text, missing = decode_ranks(ranks, words)
                    unknown += missing
                    rows.append((f"{split}-{i}", text, int(labels[i])))
                splits[split], reports[split] = decoded_split(rows, split, corpus, [npz_path, index_path],
                                                              len(sequences), unknown)
        return CorpusRead(splits, list(LABEL_NAMES), reports)


READER = ImdbNpzReader()
