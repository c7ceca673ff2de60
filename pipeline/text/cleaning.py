"""Korean-aware text cleaning, driven by ``TextConfig``; pure functions, no I/O."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# What each `text.keep` setting lets through; everything else becomes a space. Jamo ranges
# keep "ㅋㅋ" and "ㅠㅠ", which carry sentiment in reviews.
KEEP_PATTERNS = {
    "hangul": r"[^ㄱ-ㅎㅏ-ㅣ가-힣 ]",
    "hangul_basic": r"[^ㄱ-ㅎㅏ-ㅣ가-힣0-9a-zA-Z!?.~^ ]",
    "all": None,
}
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class TextCleaner:
    keep: str = "hangul_basic"
    lowercase: bool = True
    max_char_repeat: int | None = 3
    _drop: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _repeat: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.keep not in KEEP_PATTERNS:
            raise ValueError(f"keep={self.keep!r}: expected one of {sorted(KEEP_PATTERNS)}")
        if self.max_char_repeat is not None and self.max_char_repeat < 1:
            raise ValueError(f"max_char_repeat={self.max_char_repeat}: must be at least 1")
        pattern = KEEP_PATTERNS[self.keep]
        object.__setattr__(self, "_drop", re.compile(pattern) if pattern else None)
        repeat = self.max_char_repeat
        object.__setattr__(self, "_repeat", re.compile(rf"(.)\1{{{repeat},}}") if repeat else None)

    def __call__(self, text: str) -> str:
        # NFC composes decomposed Hangul (common in text from macOS) so the keep-pattern sees syllables.
        text = unicodedata.normalize("NFC", text)
        if self.lowercase:
            text = text.lower()
        if self._drop is not None:
            text = self._drop.sub(" ", text)
        if self._repeat is not None:
            text = self._repeat.sub(lambda match: match.group(1) * self.max_char_repeat, text)
        return _WHITESPACE.sub(" ", text).strip()
