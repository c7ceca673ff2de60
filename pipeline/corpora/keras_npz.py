"""The Keras text datasets (``reuters.npz``, ``imdb.npz``): word-rank sequences stored as pickled
object arrays, and a JSON word index that turns ranks back into words."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.corpora.errors import CorpusFormatError

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.corpora.base import DownloadSection


def load_word_index(path: Path) -> dict[int, str]:
    """Rank -> word, from Keras' ``*_word_index.json`` (word -> rank)."""
    try:
        word_index = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusFormatError(f"{path}: not a JSON word index: {exc}") from None
    if not isinstance(word_index, dict):
        raise CorpusFormatError(f"{path}: expected an object mapping words to ranks")
    return {int(rank): word for word, rank in word_index.items()}


def decode_ranks(ranks, words: dict[int, str]) -> tuple[str, int]:
    """A rank sequence as text, and how many ranks the word index lacks (those are left out)."""
    tokens = [words.get(int(rank)) for rank in ranks]
    return " ".join(token for token in tokens if token), sum(token is None for token in tokens)


def refuse_unverified_pickles(npz_path: Path, corpus: DownloadSection) -> None:
    """The word sequences are pickled Python objects, and unpickling a crafted file runs its code.
    A download is verified before it is saved, but a file from ``corpus.source`` is not: load it
    only if its sha256 is the one recorded in ``corpus.sha256``."""
    from pipeline.io import sha256_file

    expected = corpus.sha256.get(npz_path.name)
    actual = sha256_file(npz_path)
    if expected is None or actual != expected.lower():
        recorded = f"the recorded {expected}" if expected else "no digest recorded"
        raise CorpusFormatError(
            f"{npz_path}: sha256 {actual}, {recorded} (corpus.sha256['{npz_path.name}']). Its arrays are "
            f"pickled Python objects, which can run code when loaded, so only a verified file is read; "
            f"record the digest of a file you trust in corpus.sha256")


@contextlib.contextmanager
def load_verified_npz(npz_path: Path, corpus: DownloadSection):
    """The npz's arrays, opened only after ``refuse_unverified_pickles`` let the file through."""
    import numpy as np

    refuse_unverified_pickles(npz_path, corpus)
    try:
        # Object arrays need pickle: only the recorded file gets this far.
        arrays = np.load(npz_path, allow_pickle=True)
    except (OSError, ValueError) as exc:
        raise CorpusFormatError(f"{npz_path}: not a readable .npz file: {exc}") from None
    with arrays:
        yield arrays


def decoded_split(rows: list[tuple[str, str, int]], split: str, corpus: DownloadSection, files: list[Path],
                  rows_read: int, unknown_ranks: int) -> tuple[pd.DataFrame, dict]:
    """Decoded ``(id, text, label)`` rows as a split: empty documents dropped, train repeats dropped
    when the config says so, every drop counted in the split's report."""
    from collections import Counter

    import numpy as np
    import pandas as pd

    from pipeline.corpora.base import drop_repeated_texts

    frame = pd.DataFrame(rows, columns=["id", "text", "label"]).astype({"label": np.int64})
    dropped = Counter({"empty_document": int((frame["text"] == "").sum())})
    frame = frame[frame["text"] != ""]
    if split == "train" and corpus.drop_train_duplicates:
        frame = drop_repeated_texts(frame, dropped)
    report = {"files": [str(path) for path in files], "rows_read": rows_read, "dropped": dict(+dropped),
              "repaired": {"ranks_not_in_word_index": unknown_ranks}}
    return frame.reset_index(drop=True), report
