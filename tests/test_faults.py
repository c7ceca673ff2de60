"""The fault suite: malformed inputs across every reader, bad configs and data that must not train.

Each case goes through what the ingest task runs (config, reader, canonical table, data checks)
and must end in one error that a retry cannot fix (the task then fails at once and ``rnnflow run``
exits 2: ``pipeline.orchestration.tasks.BAD_INPUT_ERRORS``), on one line that names the file and row, or the
field, and must leave nothing half written. ``tests/integration/test_faults_cli.py`` runs a few of
them through ``rnnflow run`` itself (exit code, the one ``rnnflow: error:`` line, no run left
RUNNING); the pickle payload, kill -9 and signals have their own tests
(``tests/corpora/test_own_readers.py``, ``tests/integration/test_stop_run.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.config import load_config, validate_config
from pipeline.orchestration.tasks import BAD_INPUT_ERRORS
from pipeline.stages.ingest import run_ingest
from pipeline.stages.validate import run_validation

NSMC_HEADER = "id\tdocument\tlabel\n"
NSMC_ROWS = "".join(f"{i}\t리뷰 문장 {i}\t{i % 2}\n" for i in range(1, 41))
NSMC_TEST = NSMC_HEADER + "".join(f"{i}\t시험 문장 {i}\t{i % 2}\n" for i in range(100, 120))
CSV_ROWS = "text,label\n" + "".join(f"row number {i},{'ab'[i % 2]}\n" for i in range(40))
JSONL_ROWS = "".join(json.dumps({"text": f"row number {i}", "label": "ab"[i % 2]}) + "\n" for i in range(40))
PAIRS = "".join(f"Sentence {i}.\tPhrase {i}.\n" for i in range(40))
TABLE = {"name": "table", "text_column": "text", "label_column": "label"}


def _write(folder: Path, files: dict[str, str | bytes | pd.DataFrame]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, pd.DataFrame):
            content.to_excel(path, index=False) if path.suffix == ".xlsx" else content.to_parquet(path)
        else:
            path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


def nsmc(train: str | bytes, test: str | bytes = NSMC_TEST, **overrides) -> Callable[[Path], object]:
    def make(folder: Path):
        _write(folder, {"ratings_train.txt": train, "ratings_test.txt": test})
        return load_config("nsmc", {"corpus.source": str(folder), "data_root": str(folder / "data"), **overrides})
    return make


def own(files: dict, corpus: dict, source: str | None = None, **sections) -> Callable[[Path], object]:
    """A user's pipeline: ``source`` names the file (default: the only file, or the folder)."""
    def make(folder: Path):
        _write(folder / "in", files)
        where = folder / "in" / (source if source is not None else (next(iter(files)) if len(files) == 1 else ""))
        translation = corpus["name"] in ("tsv_pairs", "line_aligned", "table_pairs", "aihub")
        fields = {key: value.replace("{in}", str(folder / "in")) if isinstance(value, str) else value
                  for key, value in corpus.items()}
        return validate_config({
            "pipeline": "faults", "data_root": str(folder / "data"),
            "corpus": {"source": str(where), **fields},
            "text": {"tokenizer": "whitespace", "keep": "all"},
            "train": {"models": ["seq2seq" if translation else "tfidf_nb"]},
            "registry": {"metric": "bleu" if translation else "accuracy"},
            **({"target_text": {"tokenizer": "whitespace", "keep": "all"}} if translation else {}), **sections})
    return make


def config_only(overrides: dict) -> Callable[[Path], object]:
    def make(folder: Path):
        return load_config("nsmc", {"data_root": str(folder / "data"), **overrides})
    return make


def _npz(arrays: dict) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


CASES: dict[str, tuple[Callable[[Path], object], str]] = {
    # --- NSMC's tab-separated files ---
    "nsmc label outside 0/1": (nsmc(NSMC_HEADER + NSMC_ROWS + "41\t문장\t7\n"), r"ratings_train.txt:42: label '7'"),
    "nsmc row without its label": (nsmc(NSMC_HEADER + "1\t좋다\n" + NSMC_ROWS),
                                   r"ratings_train.txt:2: 2 tab-separated fields, expected id, document and label"),
    "nsmc row with an extra field": (nsmc(NSMC_HEADER + NSMC_ROWS + "50\t문장\t1\textra\n"),
                                     r"ratings_train.txt:42: 4 tab-separated fields"),
    "nsmc wrong header": (nsmc("a\tb\tc\n" + NSMC_ROWS), r"ratings_train.txt:1: header is 'a\\tb\\tc'"),
    "nsmc empty train file": (nsmc(""), r"ratings_train.txt: empty file"),
    "nsmc header only": (nsmc(NSMC_HEADER), r"nsmc train split \(.*ratings_train.txt\): no usable rows"),
    "nsmc empty test file": (nsmc(NSMC_HEADER + NSMC_ROWS, ""), r"ratings_test.txt: empty file"),
    "nsmc not UTF-8": (nsmc((NSMC_HEADER + NSMC_ROWS).encode() + b"41\t\xff\xfe\t1\n"),
                       r"ratings_train.txt:42: not UTF-8 \(byte 0xff at column 4\)"),
    "nsmc a binary file": (nsmc(b"\x89PNG\r\n\x1a\n" + bytes(range(256))), r"ratings_train.txt:1: not UTF-8"),
    "nsmc empty id": (nsmc(NSMC_HEADER + NSMC_ROWS + "\t문장\t1\n"), r"ratings_train.txt:42: empty id"),
    # --- data that must not train (the data gates) ---
    "nsmc one class": (nsmc(NSMC_HEADER + "".join(f"{i}\t리뷰 {i}\t1\n" for i in range(1, 41))),
                       r"ratings_train.txt.*the train split has one label \('positive'\)"),
    "nsmc test copied from train": (nsmc(NSMC_HEADER + NSMC_ROWS, NSMC_HEADER + NSMC_ROWS),
                                    r"test_overlap_fraction = 0.9 .*ratings_test.txt: 36 of 40 test texts are also"),
    "table test labels unseen in train": (
        own({"train.csv": CSV_ROWS, "test.csv": "text,label\nanother text,c\nmore text,c\n"},
            {**TABLE, "test_source": "{in}/test.csv"}, source="train.csv"),
        r"unseen_test_label_fraction = 1 .*test.csv.*\['c'\]"),
    "table one class": (own({"d.csv": "text,label\n" + "".join(f"row {i},a\n" for i in range(40))}, TABLE),
                        r"d.csv.*the train split has one label \('a'\)"),
    # --- the user's own tables ---
    "csv without the text column": (own({"d.csv": "body,label\nx,a\n"}, TABLE),
                                    r"d.csv: corpus.text_column: no column 'text'; the header has \['body', 'label'\]"),
    "csv without the label column": (own({"d.csv": "text,tag\nx,a\n"}, TABLE),
                                     r"d.csv: corpus.label_column: no column 'label'"),
    "csv ragged row": (own({"d.csv": CSV_ROWS + "a,b,c,d\n"}, TABLE), r"d.csv: not a well-formed CSV table: .*line 42"),
    "csv empty file": (own({"d.csv": ""}, TABLE), r"d.csv: empty file"),
    "csv header only": (own({"d.csv": "text,label\n"}, TABLE), r"d.csv: no data rows below the header"),
    "csv missing label value": (own({"d.csv": CSV_ROWS + "lonely,\n"}, TABLE),
                                r"d.csv: row 42: column 'label' \(the label\) is empty"),
    "csv label outside corpus.labels": (own({"d.csv": CSV_ROWS + "x,zzz\n"}, {**TABLE, "labels": ["a", "b"]}),
                                        r"d.csv: row 42: column 'label' is 'zzz', not one of corpus.labels"),
    "csv undecodable bytes": (own({"d.csv": CSV_ROWS.encode() + b"\xff\xfe,a\n"}, TABLE),
                              r"d.csv: row 42: byte 0xff is not utf-8"),
    "tsv that is really a csv": (own({"d.tsv": CSV_ROWS}, TABLE), r"d.tsv: corpus.text_column: no column 'text'"),
    "jsonl broken line": (own({"d.jsonl": JSONL_ROWS + '{"text": "cut\n'}, TABLE), r"d.jsonl: line 41: not JSON"),
    "jsonl line not an object": (own({"d.jsonl": "[1, 2]\n"}, TABLE), r"d.jsonl: line 1: expected a JSON object"),
    "parquet corrupt": (own({"d.parquet": b"PAR1garbagePAR1"}, TABLE), r"d.parquet: not a readable Parquet file"),
    "parquet without the text column": (own({"d.parquet": pd.DataFrame({"body": ["x", "y"], "label": ["a", "b"]})},
                                            TABLE), r"d.parquet: corpus.text_column: no column 'text'"),
    "xlsx not a workbook": (own({"d.xlsx": b"PK\x03\x04 not a zip"}, TABLE), r"d.xlsx: not a readable .xlsx workbook"),
    "xlsx without the text column": (own({"d.xlsx": pd.DataFrame({"body": ["x", "y"], "label": ["a", "b"]})}, TABLE),
                                     r"d.xlsx: corpus.text_column: no column 'text'"),
    "table of unknown format": (own({"d.docx": "x"}, TABLE), r"d.docx: cannot tell the table format .*corpus.format"),
    "table source missing": (own({"d.csv": CSV_ROWS}, TABLE, source="nope.csv"),
                             r"corpus.source .*nope.csv: file not found"),
    # --- folders of text files ---
    "text_folder given a file": (own({"readme.md": "x"}, {"name": "text_folder"}),
                                 r"readme.md: not a folder \(the text_folder reader"),
    "text_folder undecodable file": (own({"pos/1.txt": b"\xff\xfe good", "neg/2.txt": "bad"}, {"name": "text_folder"}),
                                     r"pos/1.txt: row 1: byte 0xff is not utf-8"),
    "text_folder without label folders": (own({"a.txt": "x", "b.txt": "y"}, {"name": "text_folder"}),
                                          r"in: no label folders"),
    # --- translation pairs ---
    "tsv_pairs one column": (own({"fra.txt": "Go.\n" * 40}, {"name": "tsv_pairs"}),
                             r"fra.txt:1: expected at least 2 tab-separated columns, got 1"),
    "tsv_pairs empty file": (own({"fra.txt": ""}, {"name": "tsv_pairs"}), r"fra.txt: no sentence pairs in the file"),
    "tsv_pairs not UTF-8": (own({"fra.txt": PAIRS.encode() + b"\xff\xfe\tx\n"}, {"name": "tsv_pairs"}),
                            r"fra.txt:41: not UTF-8"),
    "tsv_pairs given a folder of nothing": (own({"notes.md": "x"}, {"name": "tsv_pairs"}, source=""),
                                            r"/in: no files match corpus.file_glob '\*.txt'"),
    "line_aligned unequal line counts": (
        own({"c.ko": "하나\n둘\n셋\n", "c.en": "one\ntwo\n"}, {"name": "line_aligned"}, source=""),
        r"c.ko.*3 lines.*c.en.*2"),
    "table_pairs without the source column": (own({"p.csv": "en,fr\nGo,Va\n"},
                                                  {"name": "table_pairs", "source_column": "src",
                                                   "target_column": "fr"}),
                                              r"p.csv: corpus.source_column: no column 'src'"),
    "aihub workbook without 번역문": (own({"a.xlsx": pd.DataFrame({"원문": ["안녕"] * 4, "번역": ["hi"] * 4})},
                                       {"name": "aihub"}), r"a.xlsx: corpus.target_column: no column '번역문'"),
    # --- Reuters ---
    "reuters folder without SGML files": (own({"readme.txt": "x"}, {"name": "reuters_sgml", "subset": "r8"}, source=""),
                                          r"in: no reut2-\*.sgm files"),
    "reuters truncated tag": (own({"reut2-000.sgm": '<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" NEWID="1">'
                                                    "<TOPICS><D>earn</D></TOPICS><BODY>cut</BOD</REUTERS>\n"},
                                  {"name": "reuters_sgml", "subset": "r8"}, source=""),
                              r'reut2-000.sgm:1: <REUTERS NEWID="1"> opens <BODY> 1 time\(s\) but closes it 0'),
    "reuters npz that is not an archive": (own({"reuters.npz": b"not a zip", "reuters_word_index.json": "{}"},
                                               {"name": "reuters_npz"}, source=""),
                                           r"reuters.npz: sha256 [0-9a-f]{64}, no digest recorded"),
    "imdb npz without its arrays": (own({"imdb.npz": _npz({"x": np.arange(3)}), "imdb_word_index.json": "{}"},
                                        {"name": "imdb_npz"}, source=""), r"imdb.npz: sha256 .* only a verified file"),
    # --- config errors: named by their field ---
    "unknown config field": (config_only({"train.epochz": 3}), r"train.epochz: unknown field"),
    "epochs below one": (config_only({"train.epochs": 0}), r"nsmc.yaml is invalid: train.epochs: .* 1 \(got 0\)"),
    "unknown tokenizer": (config_only({"text.tokenizer": "nope"}), r"text.tokenizer: .*\(got 'nope'\)"),
    "option the tokenizer does not take": (config_only({"text.tokenizer_options": {"stemm": True}}),
                                           r"text.tokenizer_options.*stemm"),
    "unknown reader": (config_only({"corpus.name": "csvv"}), r"corpus.name: unknown reader 'csvv'"),
    "unknown architecture": (config_only({"train.models": ["lstmm"]}), r"train.models.*lstmm"),
    "source folder missing": (config_only({"corpus.source": "/nonexistent/nsmc"}),
                              r"corpus.source /nonexistent/nsmc: not a folder"),
}


def _ingest_task(config) -> None:
    """What the ingest task runs: read and build the table, then the data checks, enforced."""
    ingested = run_ingest(config)
    run_validation(config, ingested, Path(config.data_dir()) / "validation").enforce()


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clear_line_and_leaves_nothing_half_written(case, tmp_path):
    make, expected = CASES[case]
    with pytest.raises(Exception) as caught:
        _ingest_task(make(tmp_path))
    error = caught.value
    message = str(error)
    assert isinstance(error, BAD_INPUT_ERRORS), f"{type(error).__name__} would be retried: {message}"
    assert "\n" not in message, f"more than one line:\n{message}"
    assert re.search(expected, message), f"{message!r} does not match {expected!r}"
    assert "Traceback" not in message and len(message) < 1000
    data = tmp_path / "data"
    leftovers = [p for p in data.rglob("*") if ".tmp" in p.name or p.name.startswith(".tmp")] if data.exists() else []
    assert leftovers == []
    ingest_dir = data / "processed" / "ingest"
    for entry in (ingest_dir.iterdir() if ingest_dir.exists() else []):
        # Only complete outputs: a table cached for data that failed its checks is whole.
        assert {"table.parquet", "report.json"} <= {p.name for p in entry.iterdir()}, entry


def test_the_suite_covers_every_reader():
    from pipeline.corpora import reader_names

    assert len(CASES) >= 40
    text = "\n".join(f"{case} {CASES[case][1]}" for case in CASES)
    covered = {name for name in reader_names() if name in text or name.split("_")[0] in text}
    assert covered == set(reader_names()), set(reader_names()) - covered


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real 256 KiB file system (CI runs as root); yields its mount point, unmounted afterwards."""
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _big_nsmc(folder: Path) -> Path:
    rng = np.random.default_rng(0)  # random syllables: no compression brings the table under 256 KiB
    rows = "".join(f"{i}\t{''.join(map(chr, rng.integers(0xAC00, 0xD7A3, 120)))}\t{i % 2}\n" for i in range(4000))
    _write(folder, {"ratings_train.txt": NSMC_HEADER + rows, "ratings_test.txt": NSMC_TEST})
    return folder


@pytest.mark.parametrize("read_only", [False, True], ids=["full", "read-only"])
def test_a_full_or_read_only_data_root_fails_at_once_with_one_line_and_no_partial_files(small_tmpfs, tmp_path,
                                                                                       read_only):
    import errno
    import subprocess

    from pipeline.orchestration.tasks import unfixable_by_retry

    if read_only:
        subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    config = load_config("nsmc", {"corpus.source": str(_big_nsmc(tmp_path / "corpus")),
                                  "data_root": str(small_tmpfs / "data")})
    with pytest.raises(OSError) as caught:
        run_ingest(config)
    assert caught.value.errno == (errno.EROFS if read_only else errno.ENOSPC)
    reason = unfixable_by_retry(caught.value, str(config.data_dir()))
    assert reason is not None and "\n" not in reason
    assert reason.startswith("read-only file system: " if read_only else "no space left: ")
    assert str(small_tmpfs) in reason and "data_root" in reason
    assert [p for p in small_tmpfs.rglob("*") if p.is_file()] == []  # nothing half written


def test_the_task_wrapper_fails_unfixable_errors_at_once_and_lets_transient_ones_retry():
    import errno

    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.orchestration.tasks import pipeline_task

    @pipeline_task("disk")
    def full():
        raise OSError(errno.ENOSPC, "No space left on device", "/data/processed/x.parquet")

    @pipeline_task("network")
    def flaky():
        raise ConnectionResetError("connection reset by peer")

    with pytest.raises(AirflowFailException, match=r"^no space left: /data/processed/x.parquet \(free space"):
        full()
    with pytest.raises(ConnectionResetError):  # Airflow retries it
        flaky()
