"""A user's own classification table: CSV, TSV, JSON Lines, Parquet or Excel, described in YAML.

    corpus:
      name: table
      source: reviews.csv          # the train table (or the whole table, see below)
      text_column: review          # or a list of columns, joined with a space
      label_column: sentiment      # strings or integers, any number of classes
      labels: [neg, neu, pos]      # optional: the declared label set, in this order

The test split is a separate file (``test_source``, same header), the rows of a ``split_column``
marked as test, or else a seeded, stratified ``test_fraction`` of the table. The validation
split is always carved from train, stratified. Without a header (``header: false``) columns are
0-based positions. Rows whose text is empty are dropped and counted; a missing label or one
outside ``labels`` is an error naming the file, row and column.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from pipeline.corpora.base import (
    ClassificationSection,
    CorpusRead,
    CorpusReader,
    drop_repeated_texts,
)
from pipeline.corpora.errors import CorpusFormatError
from pipeline.corpora.tables import (
    ROW,
    ColumnRef,
    TableFiles,
    load_table,
    one_file,
    resolve_column,
)

if TYPE_CHECKING:
    import pandas as pd

TEST_FILE = "test"
TRAIN_FILE = "train"


class TableLayoutSection(TableFiles, ClassificationSection):
    """A classification table's files and splits."""

    test_source: str | None = None
    """A second table holding the test rows, read like `source`."""
    split_column: ColumnRef | None = None
    """A column whose values say each row's split; `split_values` maps them."""
    split_values: dict[Literal["train", "test"], list[str]] = Field(
        default_factory=lambda: {"train": ["train"], "test": ["test"]})
    test_fraction: float = Field(0.2, gt=0.0, lt=0.9)
    """Without test_source or test rows in split_column: this seeded, stratified share of the rows is the test split."""


class TableCorpus(TableLayoutSection):
    name: Literal["table"] = "table"
    text_column: ColumnRef | list[ColumnRef]
    label_column: ColumnRef
    labels: list[str] | None = Field(None, min_length=2)
    """The declared label set, in id order; None: the train split's labels, sorted."""
    id_column: ColumnRef | None = None
    """Each row's id (for reports); None: "<file>:<row>"."""

    @field_validator("labels")
    @classmethod
    def _labels_unique(cls, labels: list[str] | None) -> list[str] | None:
        if labels is not None and len(set(labels)) != len(labels):
            raise ValueError(f"repeats a label: {labels}")
        return labels

    @property
    def text_columns(self) -> list[ColumnRef]:
        return self.text_column if isinstance(self.text_column, list) else [self.text_column]


def split_rows(frame: pd.DataFrame, path: Path, corpus: TableLayoutSection) -> dict[str, pd.DataFrame]:
    """One table's rows by split, as its ``split_column`` says (all train without one)."""
    if corpus.split_column is None:
        return {"train": frame}
    column = resolve_column(frame, corpus.split_column, path, "split_column")
    split_of = {value: split for split, values in corpus.split_values.items() for value in values}
    unknown = ~frame[column].isin(list(split_of))
    if unknown.any():
        row = frame[unknown].iloc[0]
        raise CorpusFormatError(f"{path}: row {row[ROW]}: column {column!r} is {row[column]!r}, not one of "
                                f"{sorted(split_of)} (corpus.split_values maps values to train and test)")
    splits = frame[column].map(split_of)
    return {split: frame[splits == split] for split in ("train", "test") if (splits == split).any()}


def read_tables(files: dict[str, Path], corpus: TableLayoutSection) -> dict[str, tuple[pd.DataFrame, Path]]:
    """Split name -> (rows, the file they came from), from ``source`` and ``test_source``."""
    train_path = files[TRAIN_FILE]
    frame = load_table(train_path, corpus)
    splits = {split: (rows, train_path) for split, rows in split_rows(frame, train_path, corpus).items()}
    if TEST_FILE in files:
        if "test" in splits:
            raise CorpusFormatError(f"{train_path}: corpus.split_column marks test rows and corpus.test_source "
                                    f"gives a test file: use one")
        test_path = files[TEST_FILE]
        test = load_table(test_path, corpus)
        ours, theirs = set(frame.columns) - {ROW}, set(test.columns) - {ROW}
        if ours != theirs:
            what = f"header {sorted(theirs)}" if corpus.header else f"{len(theirs)} columns"
            expected = f"header {sorted(ours)}" if corpus.header else f"{len(ours)} columns"
            raise CorpusFormatError(f"{test_path}: {what} differs from the train table {train_path}'s {expected}")
        splits["test"] = (test, test_path)
    return splits


class TableReader(CorpusReader):
    name = "table"
    Section = TableCorpus

    def locate(self, source: Path, corpus: TableLayoutSection) -> dict[str, Path]:
        found = {TRAIN_FILE: one_file(source, "source")}
        if corpus.test_source:
            found[TEST_FILE] = one_file(Path(corpus.test_source).expanduser(), "test_source")
        return found

    def read(self, files: dict[str, Path], corpus: TableCorpus) -> CorpusRead:
        raw = {}
        for split, (rows, path) in read_tables(files, corpus).items():
            raw[split] = (_texts_and_labels(rows, path, corpus), path)
        label_names = _label_names(corpus, {split: frame for split, (frame, _) in raw.items()})
        index = {name: number for number, name in enumerate(label_names)}
        splits, reports = {}, {}
        for split, (frame, path) in raw.items():
            dropped = Counter()
            empty = frame["text"] == ""
            dropped["empty_text"] += int(empty.sum())
            frame = frame[~empty]
            if split == "train" and corpus.drop_train_duplicates:
                frame = drop_repeated_texts(frame, dropped)
            splits[split] = frame.assign(label=frame["label"].map(index).astype("int64"))[["id", "text", "label"]]
            reports[split] = {"file": str(path), "rows_read": int(len(frame) + sum(dropped.values())),
                              "dropped": {k: v for k, v in dropped.items() if v}, "repaired": {},
                              "columns": {"text": [str(ref) for ref in corpus.text_columns],
                                          "label": str(corpus.label_column)}}
        return CorpusRead(splits, label_names, reports)


def _texts_and_labels(rows: pd.DataFrame, path: Path, corpus: TableCorpus) -> pd.DataFrame:
    import pandas as pd

    text_columns = [resolve_column(rows, ref, path, "text_column") for ref in corpus.text_columns]
    label_column = resolve_column(rows, corpus.label_column, path, "label_column")
    if label_column in text_columns:
        raise CorpusFormatError(f"{path}: corpus.label_column {label_column!r} is also a text column")
    missing = rows[label_column] == ""
    if missing.any():
        row = rows[missing].iloc[0]
        raise CorpusFormatError(f"{path}: row {row[ROW]}: column {label_column!r} (the label) is empty "
                                f"({int(missing.sum())} such rows); text: {_sample(row, text_columns)!r}")
    if corpus.labels is not None:
        outside = ~rows[label_column].isin(corpus.labels)
        if outside.any():
            row = rows[outside].iloc[0]
            values = sorted(rows.loc[outside, label_column].unique())[:5]
            raise CorpusFormatError(f"{path}: row {row[ROW]}: column {label_column!r} is {row[label_column]!r}, "
                                    f"not one of corpus.labels {corpus.labels} ({int(outside.sum())} rows, "
                                    f"values {values})")
    text = rows[text_columns[0]]
    for column in text_columns[1:]:
        text = (text + " " + rows[column]).str.strip()
    if corpus.id_column is not None:
        ids = rows[resolve_column(rows, corpus.id_column, path, "id_column")]
    else:
        ids = path.name + ":" + rows[ROW].astype(str)
    return pd.DataFrame({"id": ids.to_numpy(), "text": text.str.strip().to_numpy(),
                         "label": rows[label_column].to_numpy()})


def _sample(row, text_columns: list[str]) -> str:
    return " ".join(str(row[column]) for column in text_columns)[:80]


def _label_names(corpus: TableCorpus, splits: dict[str, pd.DataFrame]) -> list[str]:
    """The declared labels, else the train labels sorted (as numbers when all are integers), then
    any label only the test split has (validation reports those)."""
    if corpus.labels is not None:
        return list(corpus.labels)
    train = set(splits["train"]["label"])
    test_only = set(splits["test"]["label"]) - train if "test" in splits else set()
    return _sorted_labels(train) + _sorted_labels(test_only)


def _sorted_labels(labels: set[str]) -> list[str]:
    if all(label.lstrip("-").isdigit() for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)


READER = TableReader()
