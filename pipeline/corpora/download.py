"""Fetch a file from a URL into the data root, checked against its recorded digest."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.corpora.errors import ChecksumMismatchError, CorpusUnavailableError
from pipeline.io import atomic_path, file_digest, sha256_file

log = logging.getLogger(__name__)


def fetch(url: str, destination: Path, sha256: str | None, timeout: float = 30.0,
          md5: str | None = None) -> Path:
    """Return ``destination``, downloading ``url`` there first unless a verified copy exists.

    The file is written atomically and verified before it is renamed into place, so a failed or
    tampered download never leaves a file that a later run would trust. sha256 is the rule; md5
    is accepted only for files whose publisher records nothing stronger (Keras'
    ``reuters_word_index.json``), and the sha256 of such a file is logged so it can be recorded.
    """
    if sha256:
        algorithm, expected = "sha256", sha256.lower()
    elif md5:
        algorithm, expected = "md5", md5.lower()
    else:
        raise ChecksumMismatchError(
            f"{url}: no sha256 recorded for this download; record it in the config (corpus.sha256)"
        )
    if destination.is_file():
        actual = file_digest(destination, algorithm)
        if actual == expected:
            log.info("using cached %s (%s verified)", destination, algorithm)
            return destination
        raise ChecksumMismatchError(
            f"{destination}: cached file has {algorithm} {actual}, expected {expected}; delete it to re-download"
        )
    log.info("downloading %s -> %s", url, destination)
    with atomic_path(destination) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise CorpusUnavailableError(f"could not download {url}: {exc}") from exc
        actual = file_digest(tmp, algorithm)
        if actual != expected:
            raise ChecksumMismatchError(f"{url}: downloaded file has {algorithm} {actual}, expected {expected}")
        if algorithm != "sha256":
            log.warning("%s verified by %s only; its sha256 is %s (record it as corpus.sha256)",
                        url, algorithm, sha256_file(tmp))
    return destination
