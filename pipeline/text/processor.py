"""The one text code path: raw text -> cleaned text -> tokens -> padded ids.

Training, evaluation and the served pyfunc all call ``TextProcessor``, so token ids at serving
time equal token ids at training time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import TextConfig
from pipeline.text.cleaning import TextCleaner
from pipeline.text.tokenizers import Tokenizer, make_tokenizer

# Changes to this package's code change cached tokens; hashing its sources makes that automatic.
TEXT_CODE_VERSION = hashlib.sha256(
    b"".join(path.read_bytes() for path in sorted(Path(__file__).parent.glob("*.py")))
).hexdigest()[:12]


@dataclass
class TextProcessor:
    cleaner: TextCleaner
    tokenizer: Tokenizer
    stopwords: frozenset[str]

    @classmethod
    def from_config(cls, config: TextConfig) -> TextProcessor:
        return cls(
            cleaner=TextCleaner(config.keep, config.lowercase, config.max_char_repeat),
            tokenizer=make_tokenizer(config.tokenizer, config.tokenizer_options),
            stopwords=frozenset(config.stopwords),
        )

    def tokens(self, text: str) -> list[str]:
        return [token for token in self.tokenizer.tokenize(self.cleaner(text)) if token not in self.stopwords]

    def joined_tokens(self, texts: Iterable[str]) -> list[str]:
        """Space-joined tokens per text: compact to pickle between processes and to store."""
        return [" ".join(self.tokens(text)) for text in texts]

    def identity(self) -> dict[str, Any]:
        return {
            "cleaner": {"keep": self.cleaner.keep, "lowercase": self.cleaner.lowercase,
                        "max_char_repeat": self.cleaner.max_char_repeat},
            "tokenizer": self.tokenizer.identity(),
            "stopwords": sorted(self.stopwords),
            "code_version": TEXT_CODE_VERSION,
        }
