"""The folder-of-files reader, Keras' imdb.npz and the pair table, through the real ingest stage."""

from __future__ import annotations

import hashlib
import json
import pickle

import numpy as np
import pandas as pd
import pytest

from pipeline.config import load_config, validate_config
from pipeline.corpora.errors import ChecksumMismatchError, CorpusFormatError
from pipeline.io import read_json
from pipeline.stages.ingest import run_ingest
from tests.corpora.payload import CodeRunningPayload

WORDS = ["the", "movie", "was", "great", "awful", "plot", "acting", "boring"]


def _write_reviews(root, split, label, count, start=0):
    folder = root / split / label
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        (folder / f"{i}_{7 if label == 'pos' else 2}.txt").write_text(
            f"review {i} of {label}<br />the  acting\nwas {label}", encoding="utf-8")


def test_acl_imdb_layout_reads_train_and_test_and_skips_unsup(tmp_path):
    root = tmp_path / "aclImdb"
    for split in ("train", "test"):
        for label in ("neg", "pos"):
            _write_reviews(root, split, label, 10, start=0 if split == "train" else 100)
    _write_reviews(root, "train", "unsup", 5, start=500)
    (root / "train" / "neg" / "notes.md").write_text("not a review")
    config = load_config("imdb", {"corpus.name": "text_folder", "corpus.source": str(root),
                                  "data_root": str(tmp_path / "data")})
    result = run_ingest(config)
    table = pd.read_parquet(result.table_path)
    report = read_json(result.report_path)
    assert report["label_names"] == ["neg", "pos"]
    assert (table["split"] == "test").sum() == 20 and len(table) == 40
    assert table["id"].str.contains("unsup").sum() == 0
    assert "review 3 of pos<br />the acting was pos" in set(table["text"])  # whitespace folded, text kept


def test_flat_label_folders_carve_a_stratified_test_split(tmp_path):
    root = tmp_path / "tickets"
    for label, count in (("billing", 30), ("bug", 20), ("praise", 10)):
        _write_reviews(root / "x", "", label, count)  # root/x/<label>/*.txt
    config = validate_config({"pipeline": "tickets", "data_root": str(tmp_path / "data"),
                              "corpus": {"name": "text_folder", "source": str(root / "x"), "test_fraction": 0.2},
                              "text": {"tokenizer": "english", "keep": "all"}, "train": {"models": ["tfidf_nb"]}})
    table = pd.read_parquet(run_ingest(config).table_path)
    test_counts = table[table["split"] == "test"]["label"].value_counts().sort_index().tolist()
    assert test_counts == [6, 4, 2]


def test_a_folder_without_label_folders_is_named(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.txt").write_text("loose file")
    config = validate_config({"pipeline": "x", "data_root": str(tmp_path / "data"),
                              "corpus": {"name": "text_folder", "source": str(tmp_path / "flat")},
                              "train": {"models": ["tfidf_nb"]}})
    with pytest.raises(CorpusFormatError, match=r"flat: no label folders"):
        run_ingest(config)


def _write_imdb_npz(folder, rows=40):
    rng = np.random.default_rng(1)
    arrays = {}
    for split in ("train", "test"):
        x = np.empty(rows, dtype=object)
        for i in range(rows):
            x[i] = [int(r) for r in rng.integers(1, len(WORDS) + 1, size=rng.integers(3, 9))]
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, np.arange(rows, dtype=np.int64) % 2
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "imdb.npz", **arrays)
    (folder / "imdb_word_index.json").write_text(json.dumps({w: i + 1 for i, w in enumerate(WORDS)}))
    return arrays


def test_imdb_npz_is_downloaded_verified_and_decoded(http_root, tmp_path):
    root, base = http_root
    arrays = _write_imdb_npz(root)
    config = load_config("imdb", {
        "data_root": str(tmp_path / "data"),
        "corpus.urls": {"imdb.npz": f"{base}/imdb.npz", "imdb_word_index.json": f"{base}/imdb_word_index.json"},
        "corpus.sha256": {"imdb.npz": hashlib.sha256((root / "imdb.npz").read_bytes()).hexdigest()},
        "corpus.md5": {"imdb_word_index.json": hashlib.md5((root / "imdb_word_index.json").read_bytes()).hexdigest()}})
    result = run_ingest(config)
    table = pd.read_parquet(result.table_path)
    assert read_json(result.report_path)["label_names"] == ["negative", "positive"]
    first_test = table[table["id"] == "test-0"].iloc[0]
    assert first_test["text"] == " ".join(WORDS[r - 1] for r in arrays["x_test"][0])
    assert first_test["label"] == 0 and (table["split"] == "test").sum() == 40


def test_imdb_npz_with_a_wrong_digest_is_refused(http_root, tmp_path):
    root, base = http_root
    _write_imdb_npz(root)
    config = load_config("imdb", {"data_root": str(tmp_path / "data"), "corpus.urls": {
        "imdb.npz": f"{base}/imdb.npz", "imdb_word_index.json": f"{base}/imdb_word_index.json"}})
    with pytest.raises(ChecksumMismatchError, match="imdb.npz: downloaded file has sha256"):
        run_ingest(config)


def test_a_crafted_local_imdb_npz_never_runs(tmp_path):
    folder, marker = tmp_path / "local", tmp_path / "ran"
    _write_imdb_npz(folder)
    payload = np.empty(1, dtype=object)
    payload[0] = CodeRunningPayload(marker)
    np.savez(folder / "imdb.npz", x_train=payload, y_train=np.zeros(1), x_test=payload, y_test=np.zeros(1))
    pickle.dumps(payload)  # the payload is a real pickle
    config = load_config("imdb", {"data_root": str(tmp_path / "data"), "corpus.source": str(folder)})
    with pytest.raises(CorpusFormatError, match=r"imdb.npz: sha256 .* pickled Python objects"):
        run_ingest(config)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_pair_table_reads_source_and_target_and_counts_empty_sides(tmp_path, suffix):
    rows = [(f"문장 {i} 입니다", f"sentence {i} here", "news" if i % 2 else "talk") for i in range(40)]
    rows.append(("빈 번역", "", "news"))
    frame = pd.DataFrame(rows, columns=["원문", "번역문", "분야"])
    path = tmp_path / f"pairs{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_excel(path, index=False)
    config = load_config("aihub_translation", {
        "corpus.name": "table_pairs", "corpus.source": str(path), "corpus.source_column": "원문",
        "corpus.target_column": "번역문", "corpus.domain_column": "분야", "data_root": str(tmp_path / "data")})
    result = run_ingest(config)
    table = pd.read_parquet(result.table_path)
    report = read_json(result.report_path)
    assert len(table) == 40 and report["dropped"]["empty_target"] == 1
    assert set(table["domain"]) == {"news", "talk"}
    assert table["origin"].iloc[0].startswith(f"pairs{suffix}:")
