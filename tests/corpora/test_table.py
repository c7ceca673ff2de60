"""The table reader: every format reads to the same rows; every malformed table is one error that
names the file and the column or row, and leaves nothing under the data root."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import ConfigError, validate_config
from pipeline.corpora.errors import CorpusFormatError
from pipeline.stages.ingest import run_ingest
from pipeline.stages.validate import run_validation

BASE = [("정말 재밌는 영화", "pos"), ("최악이다 돈 아까움", "neg"), ("그냥 그랬다", "neu"),
        ("배우 연기가 좋았다", "pos"), ("지루해서 잠들었다", "neg"), ("보통이에요", "neu")]
ROWS = [(f"{text} {number}", label) for number in range(5) for text, label in BASE]


def table_config(tmp_path: Path, source: Path, **corpus) -> object:
    return validate_config({
        "pipeline": "own", "data_root": str(tmp_path / "data"),
        "corpus": {"name": "table", "source": str(source), "text_column": "review", "label_column": "sentiment",
                   **corpus},
        "text": {"tokenizer": "chars"}, "train": {"models": ["tfidf_logreg"]},
    })


def ingest_table(tmp_path: Path, source: Path, **corpus) -> tuple[pd.DataFrame, dict]:
    result = run_ingest(table_config(tmp_path, source, **corpus))
    return pd.read_parquet(result.table_path), json.loads(Path(result.report_path).read_text())


def frame(rows=ROWS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["review", "sentiment"])


def write(path: Path, data: pd.DataFrame, **options) -> Path:
    fmt = path.suffix
    if fmt == ".csv":
        data.to_csv(path, index=False, **options)
    elif fmt == ".tsv":
        data.to_csv(path, index=False, sep="\t", **options)
    elif fmt == ".jsonl":
        data.to_json(path, orient="records", lines=True, force_ascii=False)
    elif fmt == ".parquet":
        data.to_parquet(path, index=False)
    elif fmt == ".xlsx":
        data.to_excel(path, index=False, **options)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet", ".xlsx"])
def test_every_format_reads_the_same_rows(tmp_path, suffix):
    table, report = ingest_table(tmp_path, write(tmp_path / f"reviews{suffix}", frame()))
    assert report["label_names"] == ["neg", "neu", "pos"]
    assert len(table) == 30 and table.groupby("split").size().to_dict() == {"test": 6, "train": 21, "valid": 3}
    by_text = dict(zip(table["text"], table["label"]))
    assert by_text["정말 재밌는 영화 0"] == 2 and by_text["그냥 그랬다 3"] == 1


def test_integer_labels_sort_as_numbers_and_excel_floats_read_as_integers(tmp_path):
    data = pd.DataFrame({"review": [f"문서 {i}" for i in range(30)], "sentiment": [i % 11 for i in range(30)]})
    _, report = ingest_table(tmp_path, write(tmp_path / "numbers.xlsx", data))
    assert report["label_names"] == [str(i) for i in range(11)]


def test_no_header_takes_columns_by_position_and_cp949(tmp_path):
    path = tmp_path / "spam.tsv"
    path.write_bytes("".join(f"{label}\t{text}\n" for text, label in ROWS).encode("cp949"))
    table, report = ingest_table(tmp_path, path, header=False, encoding="cp949", text_column=1, label_column=0)
    assert report["label_names"] == ["neg", "neu", "pos"] and "최악이다 돈 아까움 4" in set(table["text"])


def test_several_text_columns_are_joined(tmp_path):
    data = frame().assign(title=["제목"] * len(ROWS))
    table, _ = ingest_table(tmp_path, write(tmp_path / "t.csv", data), text_column=["title", "review"])
    assert "제목 정말 재밌는 영화 1" in set(table["text"])


def test_test_source_is_the_test_split(tmp_path):
    train = write(tmp_path / "train.csv", frame())
    test = write(tmp_path / "dev.csv", frame([("새로운 리뷰 좋다", "pos"), ("새로운 리뷰 별로", "neg")]))
    table, report = ingest_table(tmp_path, train, test_source=str(test))
    assert sorted(table.loc[table["split"] == "test", "text"]) == ["새로운 리뷰 별로", "새로운 리뷰 좋다"]
    assert report["files"]["test"]["file"] == str(test)


def test_split_column_says_each_rows_split(tmp_path):
    data = pd.DataFrame({"review": [f"리뷰 {i}" for i in range(40)], "sentiment": ["a", "b"] * 20,
                         "part": ["dev" if i % 4 == 0 else "fit" for i in range(40)]})
    table, _ = ingest_table(tmp_path, write(tmp_path / "s.csv", data), split_column="part",
                            split_values={"train": ["fit"], "test": ["dev"]})
    assert (table["split"] == "test").sum() == 10


def test_test_fraction_and_validation_are_stratified_and_seeded(tmp_path):
    rows = [(f"문서 {i}", "rare" if i < 10 else "common") for i in range(200)]
    path = write(tmp_path / "r.csv", frame(rows))
    table, _ = ingest_table(tmp_path, path, test_fraction=0.2, valid_fraction=0.1)
    counts = table.groupby(["split", "label"]).size()
    rare = 1  # label ids sort by name: common 0, rare 1
    assert counts[("test", rare)] == 2 and counts[("test", 0)] == 38
    assert counts[("valid", rare)] == 1
    again, _ = ingest_table(tmp_path / "again", path, test_fraction=0.2, valid_fraction=0.1)
    assert again.equals(table)


def _bad_cases():
    """(name, files to write: name -> bytes, corpus overrides, what the error must say)."""
    good = frame().to_csv(index=False).encode()
    yield "missing text column", {"a.csv": good}, {"text_column": "body"}, r"a.csv: corpus.text_column: no column 'body'"
    yield "missing label column", {"a.csv": good}, {"label_column": "y"}, r"a.csv: corpus.label_column: no column 'y'"
    yield "position out of range", {"a.csv": good}, {"header": False, "text_column": 0, "label_column": 5}, \
        r"a.csv: corpus.label_column: column 5 does not exist"
    yield "empty file", {"a.csv": b""}, {}, r"a.csv: empty file"
    yield "whitespace only", {"a.csv": b"\n\n  \n"}, {}, r"a.csv: empty file"
    yield "header only", {"a.csv": b"review,sentiment\n"}, {}, r"a.csv: no data rows below the header"
    yield "undecodable bytes", {"a.csv": "review,sentiment\n좋다,pos\n".encode("cp949")}, {}, \
        r"a.csv: row 2: byte 0x.. is not utf-8; it decodes as 'cp949'"
    yield "one class only", {"a.csv": frame([(f"좋다 {i}", "pos") for i in range(20)]).to_csv(index=False).encode()}, \
        {}, r"labels .*a.csv, column 'sentiment': the train split has one label \('pos'\)"
    yield "label outside declared set", {"a.csv": good}, {"labels": ["pos", "neg"]}, \
        r"a.csv: row 4: column 'sentiment' is 'neu', not one of corpus.labels"
    yield "empty label", {"a.csv": b"review,sentiment\n\xec\xa2\x8b\xeb\x8b\xa4,\n"}, {}, \
        r"a.csv: row 2: column 'sentiment' \(the label\) is empty"
    yield "ragged row", {"a.csv": b"review,sentiment\na,pos\nb,neg,extra\n"}, {}, r"a.csv: not a well-formed CSV"
    yield "repeated header", {"a.csv": b"review,review\na,b\n"}, {"label_column": "review"}, \
        r"a.csv: row 1: the header repeats column\(s\) \['review'\]"
    yield "test file with a different header", \
        {"a.csv": good, "b.csv": frame().rename(columns={"review": "text"}).to_csv(index=False).encode()}, \
        {"test_source": "b.csv"}, r"b.csv: header \['sentiment', 'text'\] differs from the train table"
    yield "test file missing", {"a.csv": good}, {"test_source": "nope.csv"}, r"corpus.test_source .*nope.csv: file not found"
    yield "source is a folder", {"sub/a.csv": good}, {"source": "sub"}, r"corpus.source .*sub: a folder"
    yield "unknown suffix", {"a.dat": good}, {"source": "a.dat"}, r"a.dat: cannot tell the table format"
    yield "bad jsonl line", {"a.jsonl": b'{"review": "a", "sentiment": "pos"}\n{not json\n'}, {"source": "a.jsonl"}, \
        r"a.jsonl: line 2: not JSON"
    yield "jsonl not objects", {"a.jsonl": b'["a", "pos"]\n'}, {"source": "a.jsonl"}, \
        r"a.jsonl: line 1: expected a JSON object, got list"
    yield "not parquet", {"a.parquet": b"PAR1 but not really"}, {"source": "a.parquet"}, \
        r"a.parquet: not a readable Parquet file"
    yield "not xlsx", {"a.xlsx": b"not a zip"}, {"source": "a.xlsx"}, r"a.xlsx: not a readable .xlsx workbook"
    yield "unknown sheet", {"a.xlsx": None}, {"source": "a.xlsx", "sheet": "Reviews"}, \
        r"a.xlsx: corpus.sheet: no sheet 'Reviews'"
    yield "split column value unknown", \
        {"a.csv": frame().assign(part=["train"] * 29 + ["holdout"]).to_csv(index=False).encode()}, \
        {"split_column": "part"}, r"a.csv: row 31: column 'part' is 'holdout', not one of \['test', 'train'\]"
    yield "all texts empty", {"a.csv": b"review,sentiment\n,pos\n ,neg\n"}, {}, r"table train split \(.*a.csv\): no usable rows"
    yield "label column is a text column", {"a.csv": good}, {"text_column": "sentiment"}, \
        r"a.csv: corpus.label_column 'sentiment' is also a text column"
    yield "test labels unseen in train", \
        {"a.csv": good, "b.csv": frame([("완전 새로운", "angry")] * 3).to_csv(index=False).encode()}, \
        {"test_source": "b.csv"}, r"unseen_test_label_fraction .*b.csv, column 'sentiment': label\(s\) \['angry'\] of 3 test rows are not in the train split, e.g. row b.csv:2"


@pytest.mark.parametrize("name,files,corpus,message", list(_bad_cases()), ids=[case[0] for case in _bad_cases()])
def test_malformed_table_is_one_clear_error_and_leaves_nothing(tmp_path, name, files, corpus, message):
    for relative, content in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            write(path, frame())
        else:
            path.write_bytes(content)
    source = corpus.pop("source", "a.csv")
    if "test_source" in corpus:
        corpus["test_source"] = str(tmp_path / corpus["test_source"])
    config = table_config(tmp_path, tmp_path / source, **corpus)
    with pytest.raises(CorpusFormatError, match=message) as caught:
        # As the ingest task does: read, then validate (validation errors are CorpusFormatErrors too).
        run_validation(config, run_ingest(config), tmp_path / "report").enforce()
    assert "\n" not in str(caught.value).strip(), "one line, no traceback"
    # Nothing half-written: a validation failure keeps only the complete, content-addressed table
    # (a rerun with better limits reuses it); a read failure leaves nothing.
    data = tmp_path / "data"
    leftovers = sorted(p.name for p in data.rglob("*") if p.is_file()) if data.exists() else []
    assert leftovers in ([], ["report.json", "table.parquet"])
    assert not [p for p in data.rglob("*.tmp")] if data.exists() else True


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match=r"corpus.encoding: Input should be 'utf-8', 'utf-8-sig' or 'cp949'"):
        validate_config({"pipeline": "own", "corpus": {"name": "table", "text_column": "t", "label_column": "l",
                                                       "encoding": "latin-1"}})
    with pytest.raises(ConfigError, match=r"corpus.label_column: required field missing"):
        validate_config({"pipeline": "own", "corpus": {"name": "table", "text_column": "t"}})
    with pytest.raises(ConfigError, match=r"corpus.labels: repeats a label"):
        validate_config({"pipeline": "own", "corpus": {"name": "table", "text_column": "t", "label_column": "l",
                                                       "labels": ["a", "a"]}})
