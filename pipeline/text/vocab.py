"""A vocabulary fit on the train split only, and right-padded id matrices."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

PAD_TOKEN = "<pad>"
OOV_TOKEN = "<unk>"
PAD_ID = 0
OOV_ID = 1
# Sequence-to-sequence vocabularies reserve these right after <pad> and <unk>.
SOS_TOKEN = "<sos>"
EOS_TOKEN = "<eos>"
SEQ2SEQ_RESERVED = (SOS_TOKEN, EOS_TOKEN)


@dataclass(frozen=True)
class Vocabulary:
    tokens: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.tokens[:2] != (PAD_TOKEN, OOV_TOKEN):
            raise ValueError(f"vocabulary must start with {PAD_TOKEN!r}, {OOV_TOKEN!r}; got {self.tokens[:2]}")
        object.__setattr__(self, "_index", {token: i for i, token in enumerate(self.tokens)})

    @classmethod
    def fit(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 1,
            max_size: int | None = None, reserved: Sequence[str] = ()) -> Vocabulary:
        """Most frequent first; ties broken by token so the result never depends on row order.
        ``reserved`` tokens (e.g. ``<sos>``, ``<eos>``) follow ``<pad>`` and ``<unk>``."""
        if min_freq < 1:
            raise ValueError(f"min_freq={min_freq}: must be at least 1")
        if max_size is not None and max_size < 3:
            raise ValueError(f"max_size={max_size}: must leave room for padding, OOV and a token")
        counts = Counter(token for tokens in token_lists for token in tokens)
        specials = (PAD_TOKEN, OOV_TOKEN, *reserved)
        for special in specials:
            counts.pop(special, None)
        kept = sorted((token for token, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max_size - len(specials)]
        return cls((*specials, *kept))

    def id_of(self, token: str) -> int:
        if token not in self._index:
            raise KeyError(f"{token!r} is not in the vocabulary")
        return self._index[token]

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        index = self._index
        return [index.get(token, OOV_ID) for token in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[i] for i in ids if i != PAD_ID]

    def to_dict(self) -> dict:
        return {"tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        return cls(tuple(data["tokens"]))


def length_at_percentile(lengths: Sequence[int], percentile: float) -> int:
    """Sequence length covering ``percentile``% of the train texts (at least 1)."""
    if len(lengths) == 0:
        raise ValueError("cannot choose a sequence length from no texts")
    return max(1, int(np.ceil(np.percentile(np.asarray(lengths), percentile))))


def truncate(items: Sequence, max_len: int, truncate_from: Literal["start", "end"] = "start") -> Sequence:
    """The part of a too-long sequence that a model sees (tokens or ids alike)."""
    if len(items) <= max_len:
        return items
    return items[-max_len:] if truncate_from == "start" else items[:max_len]


def pad_ids(id_lists: Sequence[Sequence[int]], max_len: int,
            truncate_from: Literal["start", "end"] = "start") -> np.ndarray:
    """Right-padded (post) id matrix, so cuDNN-backed RNN kernels stay eligible on GPU.

    ``truncate_from="start"`` keeps a long text's last ``max_len`` tokens: Korean puts the
    predicate, which carries most sentiment, at the end.
    """
    out = np.full((len(id_lists), max_len), PAD_ID, dtype=np.int32)
    for row, ids in enumerate(id_lists):
        ids = truncate(ids, max_len, truncate_from)
        out[row, : len(ids)] = ids
    return out
