"""Keras' Reuters newswire topics: ``reuters.npz`` (word-rank sequences, 46 topic ids) decoded to
text with ``reuters_word_index.json``; Keras' own shuffled 80/20 split."""

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


class ReutersNpzCorpus(DownloadSection):
    name: Literal["reuters_npz"] = "reuters_npz"


# The Keras newswire set's 46 topics, in label-id order (keras.datasets.reuters.get_label_names();
# copied so that ingestion does not import TensorFlow, and checked against Keras by a test).
KERAS_REUTERS_TOPICS = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee",
    "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx",
    "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock",
    "retail", "ipi", "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem",
    "dlr", "gas", "silver", "wpi", "hog", "lead",
)
# keras.datasets.reuters.load_data's defaults, so the test split is the one Keras users know.
KERAS_SHUFFLE_SEED = 113
KERAS_TEST_SPLIT = 0.2


class ReutersNpzReader(CorpusReader):
    """``reuters.npz`` (word-rank sequences and topic ids) decoded to text with its word index."""

    name = "reuters_npz"
    Section = ReutersNpzCorpus
    files = ("reuters.npz", "reuters_word_index.json")
    downloadable = True

    def read(self, files: dict[str, Path], corpus: ReutersNpzCorpus) -> CorpusRead:
        import numpy as np

        npz_path, index_path = files["reuters.npz"], files["reuters_word_index.json"]
        words = load_word_index(index_path)
        with load_verified_npz(npz_path, corpus) as arrays:
            try:
                sequences, topics = arrays["x"], arrays["y"]
            except (OSError, ValueError, KeyError) as exc:
                raise CorpusFormatError(f"{npz_path}: not the Keras reuters.npz (arrays x, y): {exc}") from exc
        if len(sequences) != len(topics):
            raise CorpusFormatError(f"{npz_path}: {len(sequences)} sequences but {len(topics)} labels")
        order = np.arange(len(sequences))
        np.random.RandomState(KERAS_SHUFFLE_SEED).shuffle(order)
        n_train = int(len(order) * (1 - KERAS_TEST_SPLIT))
        splits, reports = {}, {}
        for split, indices in (("train", order[:n_train]), ("test", order[n_train:])):
            rows, unknown = [], 0
            for i in indices:
                label = int(topics[i])
                if not 0 <= label < len(KERAS_REUTERS_TOPICS):
                    raise CorpusFormatError(f"{npz_path}: row {i}: topic id {label} outside 0..45")
                text, missing = decode_ranks(sequences[i], words)
                unknown += missing
                rows.append((str(i), text, label))
            splits[split], reports[split] = decoded_split(rows, split, corpus, [npz_path, index_path],
                                                          len(indices), unknown)
        return CorpusRead(splits, list(KERAS_REUTERS_TOPICS), reports)


READER = ReutersNpzReader()
