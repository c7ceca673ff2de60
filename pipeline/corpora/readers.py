"""One reader per ``corpus.name``: corpus files -> train and test rows (id, text, label) + report.

Ingestion (``pipeline.ingest``) is the same for every corpus: resolve the files (a local folder or
verified downloads), read them with the corpus' reader, split off validation rows, write the
canonical table. A reader knows only its own format.
"""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import CorpusConfig
from pipeline.corpora import nsmc, parallel, reuters
from pipeline.corpora.errors import CorpusFormatError


@dataclass
class CorpusRead:
    """What a reader hands to ingestion: labels are ids into ``label_names``."""

    splits: dict[str, pd.DataFrame]          # "train", "test" -> columns id, text, label
    label_names: list[str]
    file_reports: dict[str, dict] = field(default_factory=dict)  # per split: files, rows read, dropped


class CorpusReader:
    name = "base"
    task = "classification"  # or "translation": rows (id, source, target, domain, origin)
    # Files a source folder must hold (or that are downloaded); a glob for folder-only corpora.
    files: tuple[str, ...] = ()
    downloadable = True

    def locate(self, folder: Path, corpus: CorpusConfig) -> dict[str, Path]:
        """File name -> path inside a local source folder."""
        if not folder.is_dir():
            raise FileNotFoundError(f"corpus.source {folder}: not a folder")
        return {name: folder / name for name in self.files}

    def read(self, files: dict[str, Path], corpus: CorpusConfig) -> CorpusRead:
        raise NotImplementedError


class NsmcReader(CorpusReader):
    name = "nsmc"
    files = tuple(nsmc.SPLIT_FILES.values())

    def read(self, files: dict[str, Path], corpus: CorpusConfig) -> CorpusRead:
        splits, reports = {}, {}
        for split, name in nsmc.SPLIT_FILES.items():
            path = files[name]
            frame, stats = nsmc.parse_file(path)
            if split == "train" and corpus.drop_train_duplicates:
                frame = nsmc.drop_duplicates(frame, stats)
            else:
                nsmc.count_duplicates(frame, stats)
            splits[split] = frame
            reports[split] = {"file": str(path), "rows_read": stats.rows_read,
                              "dropped": dict(stats.dropped), "repaired": dict(stats.repaired)}
        return CorpusRead(splits, list(nsmc.LABEL_NAMES), reports)


class ReutersSgmlReader(CorpusReader):
    """The Reuters-21578 distribution from a local folder; R8 or R52 by ``corpus.subset``."""

    name = "reuters_sgml"
    downloadable = False

    def locate(self, folder: Path, corpus: CorpusConfig) -> dict[str, Path]:
        if not folder.is_dir():
            raise FileNotFoundError(f"corpus.source {folder}: not a folder")
        found = sorted(folder.glob(reuters.SGML_GLOB))
        if not found:
            raise CorpusFormatError(f"{folder}: no {reuters.SGML_GLOB} files (the Reuters-21578 SGML distribution)")
        return {path.name: path for path in found}

    def read(self, files: dict[str, Path], corpus: CorpusConfig) -> CorpusRead:
        documents = [document for name in sorted(files) for document in reuters.parse_sgml(files[name])]
        chosen = reuters.single_topic_subset(documents, corpus.subset)
        label_names = sorted({topic for _, _, topic in chosen})
        label_ids = {topic: i for i, topic in enumerate(label_names)}
        modapte = Counter(split for _, split in reuters.modapte(documents))
        splits, reports = {}, {}
        for split in ("train", "test"):
            rows = [(doc.new_id, doc.text, label_ids[topic]) for doc, s, topic in chosen if s == split]
            frame = pd.DataFrame(rows, columns=["id", "text", "label"]).astype({"label": np.int64})
            dropped = Counter({f"not_single_topic_{corpus.subset}": modapte[split] - len(frame)})
            frame = _drop_repeated_texts(frame, dropped) if split == "train" and corpus.drop_train_duplicates \
                else frame
            splits[split] = frame
            reports[split] = {"files": sorted(files), "rows_read": modapte[split], "dropped": dict(+dropped),
                              "repaired": {}}
        return CorpusRead(splits, label_names, reports)


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
    files = ("reuters.npz", "reuters_word_index.json")

    def read(self, files: dict[str, Path], corpus: CorpusConfig) -> CorpusRead:
        npz_path, index_path = files["reuters.npz"], files["reuters_word_index.json"]
        try:
            word_index = json.loads(index_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorpusFormatError(f"{index_path}: not a JSON word index: {exc}") from exc
        if not isinstance(word_index, dict):
            raise CorpusFormatError(f"{index_path}: expected an object mapping words to ranks")
        words = {int(rank): word for word, rank in word_index.items()}
        try:
            # Object arrays need pickle; the file's digest was verified against the recorded one.
            with np.load(npz_path, allow_pickle=True) as arrays:
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
                tokens = [words.get(int(rank)) for rank in sequences[i]]
                unknown += sum(token is None for token in tokens)
                rows.append((str(i), " ".join(token for token in tokens if token), label))
            frame = pd.DataFrame(rows, columns=["id", "text", "label"]).astype({"label": np.int64})
            dropped = Counter({"empty_document": int((frame["text"] == "").sum())})
            frame = frame[frame["text"] != ""]
            if split == "train" and corpus.drop_train_duplicates:
                frame = _drop_repeated_texts(frame, dropped)
            splits[split] = frame.reset_index(drop=True)
            reports[split] = {"files": [str(npz_path), str(index_path)], "rows_read": len(indices),
                              "dropped": dict(+dropped), "repaired": {"ranks_not_in_word_index": unknown}}
        return CorpusRead(splits, list(KERAS_REUTERS_TOPICS), reports)


class ParallelReader(CorpusReader):
    """Translation pairs from a local folder (or, for tab-separated pairs, one file)."""

    task = "translation"
    downloadable = False

    def read(self, files: dict[str, Path], corpus: CorpusConfig) -> CorpusRead:
        pairs, quirks = self.read_pairs(files, corpus)
        return CorpusRead({"all": pairs}, [], {"all": {"files": sorted(files), "rows_read": len(pairs),
                                                        "dropped": quirks, "repaired": {}}})

    def read_pairs(self, files: dict[str, Path], corpus: CorpusConfig) -> tuple[pd.DataFrame, dict]:
        raise NotImplementedError


class AihubReader(ParallelReader):
    """AI Hub Korean-English .xlsx files: ``corpus.file_glob`` in the folder, columns by name."""

    name = "aihub"

    def locate(self, folder: Path, corpus: CorpusConfig) -> dict[str, Path]:
        # "~$name.xlsx" is Excel's lock file beside an open workbook, not data.
        found = _files_in(folder, lambda path: fnmatch.fnmatch(path.name, corpus.file_glob)
                          and not path.name.startswith("~$"))
        if not found:
            raise CorpusFormatError(f"{folder}: no files match corpus.file_glob {corpus.file_glob!r} "
                                    f"(the AI Hub Korean-English .xlsx files)")
        return found

    def read_pairs(self, files, corpus):
        columns = parallel.AihubColumns(**corpus.columns)
        frames = [parallel.read_aihub_workbook(path, columns) for _, path in sorted(files.items())]
        return pd.concat(frames, ignore_index=True), {}


class LineAlignedReader(ParallelReader):
    """``<name>.<source_lang>`` + ``<name>.<target_lang>`` files, plain or inside ``.tar.gz``."""

    name = "line_aligned"

    def locate(self, folder: Path, corpus: CorpusConfig) -> dict[str, Path]:
        suffixes = (f".{corpus.source_lang}", f".{corpus.target_lang}")
        return _files_in(folder, lambda path: path.name.endswith(".tar.gz") or path.suffix in suffixes)

    def read_pairs(self, files, corpus):
        return parallel.read_line_aligned_files(files.values(), corpus.source_lang, corpus.target_lang)


class TsvPairsReader(ParallelReader):
    """Tab-separated pairs (``fra.txt``): ``corpus.source`` is the file or a folder of ``file_glob``."""

    name = "tsv_pairs"

    def locate(self, folder: Path, corpus: CorpusConfig) -> dict[str, Path]:
        if folder.is_file():
            return {folder.name: folder}
        found = _files_in(folder, lambda path: fnmatch.fnmatch(path.name, corpus.file_glob))
        if not found:
            raise CorpusFormatError(f"{folder}: no files match corpus.file_glob {corpus.file_glob!r}")
        return found

    def read_pairs(self, files, corpus):
        stats = parallel.TsvStats()
        source_column, target_column = corpus.tsv_columns
        frames = [parallel.read_tsv_pairs(path, source_column, target_column, stats)
                  for _, path in sorted(files.items())]
        quirks = {"unterminated_last_line": stats.unterminated_last_line} if stats.unterminated_last_line else {}
        return pd.concat(frames, ignore_index=True), quirks


def _files_in(folder: Path, wanted) -> dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus.source {folder}: not a folder")
    return {str(path.relative_to(folder)): path for path in sorted(folder.rglob("*"))
            if path.is_file() and wanted(path)}


def _drop_repeated_texts(frame: pd.DataFrame, dropped: Counter) -> pd.DataFrame:
    repeated = frame["text"].duplicated()
    dropped["duplicate_document"] += int(repeated.sum())
    return frame[~repeated]


READERS: dict[str, CorpusReader] = {reader.name: reader for reader in
                                    (NsmcReader(), ReutersSgmlReader(), ReutersNpzReader(), AihubReader(),
                                     LineAlignedReader(), TsvPairsReader())}


def corpus_reader(name: str) -> CorpusReader:
    try:
        return READERS[name]
    except KeyError:
        raise ValueError(f"corpus.name {name!r}: expected one of {sorted(READERS)}") from None
