"""Corpus readers through the real ingest stage: Reuters SGML from a folder, reuters.npz downloaded."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.corpora.errors import ChecksumMismatchError, CorpusFormatError
from pipeline.corpora.readers.reuters_npz import KERAS_REUTERS_TOPICS
from pipeline.io import read_json
from pipeline.stages.ingest import run_ingest
from tests.corpora.payload import CodeRunningPayload
from tests.corpora.test_reuters import _document

WORDS = ["the", "of", "to", "said", "oil", "wheat", "profit", "bank"]


def _write_npz(folder, rows=50):
    """A small file in the Keras format: x = word ranks (1 = most frequent), y = topic ids."""
    rng = np.random.default_rng(0)
    x = np.empty(rows, dtype=object)
    for i in range(rows):
        x[i] = [int(r) for r in rng.integers(1, len(WORDS) + 1, size=rng.integers(3, 9))]
    y = np.arange(rows, dtype=np.int64) % 3 + 3  # earn, acq, wheat
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "reuters.npz", x=x, y=y)
    (folder / "reuters_word_index.json").write_text(json.dumps({w: i + 1 for i, w in enumerate(WORDS)}))
    return x, y


def _npz_config(tmp_path, **overrides):
    return load_config("reuters", {"data_root": str(tmp_path / "data"), "tracking.experiment": "t", **overrides})


def test_npz_is_downloaded_verified_decoded_and_split_as_keras_does(http_root, tmp_path):
    root, base = http_root
    x, y = _write_npz(root)
    digests = {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in ("reuters.npz",)}
    md5 = hashlib.md5((root / "reuters_word_index.json").read_bytes()).hexdigest()
    config = _npz_config(tmp_path, **{
        "corpus.urls": {"reuters.npz": f"{base}/reuters.npz", "reuters_word_index.json": f"{base}/reuters_word_index.json"},
        "corpus.sha256": digests, "corpus.md5": {"reuters_word_index.json": md5}, "corpus.valid_fraction": 0.0})
    result = run_ingest(config)
    table = pd.read_parquet(result.table_path)
    assert result.rows == {"train": 40, "test": 10}
    order = np.arange(50)
    np.random.RandomState(113).shuffle(order)  # keras.datasets.reuters.load_data's split
    test = table[table.split == "test"]
    assert test["id"].tolist() == [str(i) for i in order[40:]]
    first = int(test["id"].iloc[0])
    assert test["text"].iloc[0] == " ".join(WORDS[r - 1] for r in x[first])
    assert test["label"].iloc[0] == y[first]
    assert read_json(result.report_path)["label_names"][3:6] == ["earn", "acq", "wheat"]


def test_npz_with_a_wrong_digest_is_refused(http_root, tmp_path):
    root, base = http_root
    _write_npz(root)
    config = _npz_config(tmp_path, **{"corpus.urls": {"reuters.npz": f"{base}/reuters.npz",
                                                     "reuters_word_index.json": f"{base}/reuters_word_index.json"}})
    with pytest.raises(ChecksumMismatchError, match="reuters.npz: downloaded file has sha256"):
        run_ingest(config)
    assert not (tmp_path / "data" / "raw" / "reuters_npz" / "reuters.npz").exists()


def test_npz_topic_out_of_range_names_the_row(tmp_path):
    folder = tmp_path / "local"
    _write_npz(folder)
    with np.load(folder / "reuters.npz", allow_pickle=True) as arrays:
        x, y = arrays["x"], arrays["y"].copy()
    y[7] = 46
    np.savez(folder / "reuters.npz", x=x, y=y)
    trusted = {"reuters.npz": hashlib.sha256((folder / "reuters.npz").read_bytes()).hexdigest()}
    with pytest.raises(CorpusFormatError, match=r"reuters.npz: row 7: topic id 46 outside 0..45"):
        run_ingest(_npz_config(tmp_path, **{"corpus.source": str(folder), "corpus.sha256": trusted}))


def test_a_crafted_local_npz_is_refused_before_anything_in_it_runs(tmp_path):
    folder, marker = tmp_path / "local", tmp_path / "code-ran"
    _write_npz(folder)
    x = np.empty(1, dtype=object)
    x[0] = CodeRunningPayload(marker)
    np.savez(folder / "reuters.npz", x=x, y=np.array([3]))
    # The payload is real: an unguarded np.load would run it.
    with np.load(folder / "reuters.npz", allow_pickle=True) as arrays:
        arrays["x"]
    assert marker.exists()
    marker.unlink()

    with pytest.raises(CorpusFormatError, match=r"reuters.npz: sha256 [0-9a-f]{64}, the recorded d6586e69.*pickled"):
        run_ingest(_npz_config(tmp_path, **{"corpus.source": str(folder)}))
    assert not marker.exists()
    with pytest.raises(CorpusFormatError, match=r"no digest recorded"):
        run_ingest(_npz_config(tmp_path, **{"corpus.source": str(folder), "corpus.sha256": {}}))
    assert not marker.exists()


def test_topic_names_match_keras():
    from keras.datasets import reuters

    assert KERAS_REUTERS_TOPICS == tuple(reuters.get_label_names())


def test_sgml_r52_ingest_from_a_folder(tmp_path):
    folder = tmp_path / "reuters"
    folder.mkdir()
    docs = [_document(i, "TRAIN" if i <= 12 else "TEST", [topic], f"Story {i} about {topic}.")
            for i, topic in enumerate(["earn", "acq", "cocoa"] * 6, start=1)]
    docs.append(_document(99, "TRAIN", ["earn", "acq"], "Two topics."))
    (folder / "reut2-000.sgm").write_bytes("".join(docs).encode("latin-1"))
    config = _npz_config(tmp_path, **{"corpus.name": "reuters_sgml", "corpus.subset": "r52",
                                      "corpus.source": str(folder), "corpus.valid_fraction": 0.0})
    result = run_ingest(config)
    report = read_json(result.report_path)
    assert report["label_names"] == ["acq", "cocoa", "earn"]
    assert result.rows == {"train": 12, "test": 6}  # the two-topic document is not single-topic
    assert report["files"]["train"]["dropped"] == {"not_single_topic_r52": 1}
    table = pd.read_parquet(result.table_path)
    row = table[table["id"] == "1"].iloc[0]
    assert (row["text"], report["label_names"][row["label"]]) == ("T1 <ABC> Story 1 about earn.", "earn")


def test_sgml_needs_a_subset_and_a_folder(tmp_path):
    from pipeline.config import ConfigError
    from pipeline.corpora.errors import CorpusUnavailableError

    with pytest.raises(ConfigError, match="corpus.subset"):
        _npz_config(tmp_path, **{"corpus.name": "reuters_sgml"})
    with pytest.raises(CorpusUnavailableError, match="local folder only"):
        run_ingest(_npz_config(tmp_path, **{"corpus.name": "reuters_sgml", "corpus.subset": "r8"}))
