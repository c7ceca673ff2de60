"""A folder of text files, one subfolder per label: the layout ``keras.utils.text_dataset_from_directory``
reads, and the IMDB ``aclImdb`` archive's (``train/`` and ``test/`` each holding ``neg/`` and ``pos/``).

    corpus:
      name: text_folder
      source: aclImdb             # holds train/ and test/, or the label folders themselves
      ignore_folders: [unsup]     # aclImdb's unlabelled reviews

With ``train/`` and ``test/`` folders those are the splits; otherwise the label folders are
directly under ``source`` and the test split is a seeded, stratified ``test_fraction``. Every
file matching ``file_glob`` is one document; labels are the folder names, sorted.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import Field

from pipeline.corpora.base import (
    ClassificationSection,
    CorpusRead,
    CorpusReader,
    drop_repeated_texts,
)
from pipeline.corpora.errors import CorpusFormatError
from pipeline.corpora.tables import ENCODINGS, decode

SPLIT_FOLDERS = ("train", "test")


class TextFolderCorpus(ClassificationSection):
    name: Literal["text_folder"] = "text_folder"
    file_glob: str = "*.txt"
    encoding: Literal[ENCODINGS] = "utf-8"
    ignore_folders: list[str] = Field(default_factory=lambda: ["unsup"])
    """Label folders that hold no labelled documents."""
    test_fraction: float = Field(0.2, gt=0.0, lt=0.9)
    """Without train/ and test/ folders: this seeded, stratified share of the files is the test split."""


def _label_folders(folder: Path, corpus: TextFolderCorpus) -> list[Path]:
    found = sorted(path for path in folder.iterdir()
                   if path.is_dir() and not path.name.startswith(".") and path.name not in corpus.ignore_folders)
    if not found:
        raise CorpusFormatError(f"{folder}: no label folders (expected one subfolder per label holding "
                                f"{corpus.file_glob} files)")
    return found


class TextFolderReader(CorpusReader):
    name = "text_folder"
    Section = TextFolderCorpus

    def locate(self, source: Path, corpus: TextFolderCorpus) -> dict[str, Path]:
        """"<split>/<label>/<file>" -> path (split "train" when there are no split folders)."""
        if not source.is_dir():
            raise CorpusFormatError(f"corpus.source {source}: not a folder (the text_folder reader reads "
                                    f"one subfolder per label)")
        has_splits = all((source / split).is_dir() for split in SPLIT_FOLDERS)
        roots = {split: source / split for split in SPLIT_FOLDERS} if has_splits else {"train": source}
        found = {}
        for split, root in roots.items():
            for label_dir in _label_folders(root, corpus):
                for path in sorted(label_dir.iterdir()):
                    if path.is_file() and fnmatch.fnmatch(path.name, corpus.file_glob):
                        found[f"{split}/{label_dir.name}/{path.name}"] = path
        if not found:
            raise CorpusFormatError(f"{source}: no {corpus.file_glob} files in its label folders")
        return found

    def read(self, files: dict[str, Path], corpus: TextFolderCorpus) -> CorpusRead:
        import pandas as pd

        records: dict[str, list] = {}
        for key, path in files.items():
            split, label, _ = key.split("/", 2)
            text = " ".join(decode(path.read_bytes(), path, corpus.encoding).split())
            records.setdefault(split, []).append((key, text, label))
        train_labels = sorted({label for _, _, label in records["train"]})
        test_only = sorted({label for _, _, label in records.get("test", [])} - set(train_labels))
        label_names = train_labels + test_only
        index = {label: number for number, label in enumerate(label_names)}
        splits, reports = {}, {}
        for split, rows in records.items():
            frame = pd.DataFrame(rows, columns=["id", "text", "label"])
            frame["label"] = frame["label"].map(index).astype("int64")
            dropped = Counter({"empty_document": int((frame["text"] == "").sum())})
            frame = frame[frame["text"] != ""]
            if split == "train" and corpus.drop_train_duplicates:
                frame = drop_repeated_texts(frame, dropped)
            splits[split] = frame.reset_index(drop=True)
            reports[split] = {"files": sorted({str(Path(files[key]).parent) for key, _, _ in rows}),
                              "rows_read": len(rows), "dropped": dict(+dropped), "repaired": {}}
        return CorpusRead(splits, label_names, reports)


READER = TextFolderReader()
