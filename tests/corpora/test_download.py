"""The downloader against real HTTP on loopback, with real checksums."""

import hashlib

import pytest

from pipeline.corpora.download import fetch
from pipeline.corpora.errors import ChecksumMismatchError, CorpusUnavailableError


def test_download_verifies_and_caches(http_root, tmp_path):
    root, base = http_root
    content = "id\tdocument\tlabel\n1\t좋다\t1\n".encode()
    (root / "ratings_train.txt").write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    destination = tmp_path / "raw" / "ratings_train.txt"
    assert fetch(f"{base}/ratings_train.txt", destination, digest) == destination
    assert destination.read_bytes() == content
    (root / "ratings_train.txt").unlink()  # the second call must not touch the network
    assert fetch(f"{base}/ratings_train.txt", destination, digest).read_bytes() == content


def test_checksum_mismatch_leaves_no_file(http_root, tmp_path):
    root, base = http_root
    (root / "ratings_train.txt").write_bytes(b"tampered")
    destination = tmp_path / "raw" / "ratings_train.txt"
    with pytest.raises(ChecksumMismatchError, match="expected " + "0" * 64):
        fetch(f"{base}/ratings_train.txt", destination, "0" * 64)
    assert not destination.exists()
    assert list(destination.parent.iterdir()) == []


def test_corrupted_cache_is_reported(tmp_path):
    destination = tmp_path / "ratings_train.txt"
    destination.write_bytes(b"corrupted")
    with pytest.raises(ChecksumMismatchError, match="cached file has sha256"):
        fetch("http://127.0.0.1:9/unused", destination, "0" * 64)


def test_unreachable_server_is_corpus_unavailable(tmp_path):
    with pytest.raises(CorpusUnavailableError, match="could not download"):
        fetch("http://127.0.0.1:9/ratings_train.txt", tmp_path / "f.txt", "0" * 64, timeout=5)
    assert not (tmp_path / "f.txt").exists()


def test_missing_checksum_is_refused(tmp_path):
    with pytest.raises(ChecksumMismatchError, match="no sha256 recorded"):
        fetch("http://127.0.0.1:9/x", tmp_path / "x", None)


def test_md5_is_accepted_where_only_md5_is_published(http_root, tmp_path):
    root, base = http_root
    content = b'{"the": 1, "of": 2}'
    (root / "reuters_word_index.json").write_bytes(content)
    destination = tmp_path / "raw" / "reuters_word_index.json"
    fetch(f"{base}/reuters_word_index.json", destination, None, md5=hashlib.md5(content).hexdigest())
    assert destination.read_bytes() == content
    with pytest.raises(ChecksumMismatchError, match="cached file has md5"):
        fetch(f"{base}/reuters_word_index.json", destination, None, md5="0" * 32)
