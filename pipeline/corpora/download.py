"""Fetch a file from a URL into the data root, checked against its recorded sha256."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.io import atomic_path, sha256_file

log = logging.getLogger(__name__)


class CorpusUnavailableError(RuntimeError):
    """The corpus could not be downloaded and no local copy was given."""


class ChecksumMismatchError(ValueError):
    """A downloaded or cached file does not have its recorded sha256."""


def fetch(url: str, destination: Path, sha256: str | None, timeout: float = 30.0) -> Path:
    """Return ``destination``, downloading ``url`` there first unless a verified copy exists.

    The file is written atomically and verified before it is renamed into place, so a failed or
    tampered download never leaves a file that a later run would trust.
    """
    if not sha256:
        raise ChecksumMismatchError(
            f"{url}: no sha256 recorded for this download; record it in the config (corpus.sha256)"
        )
    if destination.is_file():
        actual = sha256_file(destination)
        if actual == sha256:
            log.info("using cached %s (sha256 verified)", destination)
            return destination
        raise ChecksumMismatchError(
            f"{destination}: cached file has sha256 {actual}, expected {sha256}; delete it to re-download"
        )
    log.info("downloading %s -> %s", url, destination)
    with atomic_path(destination) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise CorpusUnavailableError(f"could not download {url}: {exc}") from exc
        actual = sha256_file(tmp)
        if actual != sha256:
            raise ChecksumMismatchError(f"{url}: downloaded file has sha256 {actual}, expected {sha256}")
    return destination
