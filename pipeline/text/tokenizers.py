"""Tokenizers behind one interface: ``tokenize(text) -> list[str]`` plus a recorded identity.

konlpy taggers run on a JVM started through JPype. The JVM is started lazily, on the first
``tokenize`` call, in the process that calls it; a tokenizer pickles without its tagger, so it
can be sent to worker processes, each of which starts its own.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pipeline.names import KONLPY_TAGGERS, TOKENIZER_OPTIONS, TOKENIZERS

if TYPE_CHECKING:
    from pipeline.config import TextConfig

# Character-level tokens cannot contain whitespace: a space is this visible mark instead.
SPACE_MARK = "▁"


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not-installed"


class Tokenizer:
    """Base class: subclasses set ``name`` and implement ``_make_tagger`` and ``_split``."""

    name = "base"

    @property
    def allowed_options(self) -> tuple[str, ...]:
        return TOKENIZER_OPTIONS[self.name]

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(self.allowed_options)
        if unknown:
            raise ValueError(f"tokenizer {self.name!r}: unknown option(s) {sorted(unknown)}; "
                             f"allowed: {sorted(self.allowed_options)}")
        self.options = dict(sorted(options.items()))
        self._tagger = None

    @property
    def version(self) -> str:
        return "builtin"

    def identity(self) -> dict[str, Any]:
        """Name, version and options: recorded with every model and in every cache key."""
        return {"name": self.name, "version": self.version, "options": self.options}

    def tokenize(self, text: str) -> list[str]:
        if not text:
            return []
        if self._tagger is None:
            self._tagger = self._make_tagger()
        # Tokens never contain whitespace, so a space-joined string round-trips exactly.
        return [token for token in self._split(text) if token and not token.isspace()]

    def _make_tagger(self) -> Callable[[str], list[str]] | object:
        raise NotImplementedError

    def _split(self, text: str) -> list[str]:
        raise NotImplementedError

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_tagger": None}


class WhitespaceTokenizer(Tokenizer):
    name = "whitespace"

    def _make_tagger(self) -> object:
        return str.split

    def _split(self, text: str) -> list[str]:
        return text.split()


class EnglishTokenizer(Tokenizer):
    """Words and numbers; apostrophes, hyphens and decimal points inside a token stay with it
    ("u.s.", "don't", "1.5", "mid-year"), other punctuation is dropped."""

    name = "english"
    WORD = r"[^\W_]+(?:['’.\-][^\W_]+)*\.?"
    PUNCTUATION = r"|[^\w\s]"  # with keep_punctuation: each mark is a token (translation targets)

    @property
    def version(self) -> str:
        return "builtin-1"

    def _make_tagger(self) -> object:
        import re

        return re.compile(self.WORD + (self.PUNCTUATION if self.options.get("keep_punctuation") else ""))

    def _split(self, text: str) -> list[str]:
        tokens = []
        for token in self._tagger.findall(text):
            if token.count(".") == 1 and len(token) > 1 and token.endswith("."):
                tokens.extend([token[:-1], "."] if self.options.get("keep_punctuation") else [token[:-1]])
            else:
                tokens.append(token)
        return tokens


class CharTokenizer(Tokenizer):
    """One token per character, spaces as ``▁`` (the Keras character-level seq2seq example)."""

    name = "chars"

    def _make_tagger(self) -> object:
        return list

    def _split(self, text: str) -> list[str]:
        return [SPACE_MARK if char.isspace() else char for char in text]


def detokenize(tokens: list[str], config: TextConfig) -> str:
    """Output tokens back to a readable string: characters and subword pieces are joined (``▁``
    marks a space, or where a word starts), words are space-separated."""
    if config.tokenizer == "chars" or config.subword_vocab_size:
        return "".join(tokens).replace(SPACE_MARK, " ").strip()
    return " ".join(tokens)


class MecabTokenizer(Tokenizer):
    """MeCab-ko through python-mecab-ko, with the mecab-ko-dic dictionary it ships."""

    name = "mecab"

    @property
    def version(self) -> str:
        return (f"python-mecab-ko=={_package_version('python-mecab-ko')},"
                f"mecab-ko-dic=={_package_version('python-mecab-ko-dic')}")

    def _make_tagger(self) -> object:
        import _mecab
        import mecab

        tagger = mecab.MeCab()._tagger
        lattice = _mecab.Lattice()
        lattice.add_request_type(_mecab.MECAB_ALLOCATE_SENTENCE)
        return tagger, lattice

    def _split(self, text: str) -> list[str]:
        # MeCab's own text output ("surface\tPOS,...") parsed here is twice as fast as
        # MeCab.morphs(), which builds a Morpheme object per token; the tokens are identical.
        tagger, lattice = self._tagger
        lattice.clear()
        lattice.set_sentence(text)
        if not tagger.parse(lattice):
            raise RuntimeError(f"MeCab failed on {text[:50]!r}: {tagger.what()}")
        with_pos = self.options.get("with_pos")
        tokens = []
        for line in lattice.to_string().split("\n"):
            if not line or line == "EOS":
                continue
            surface, _, feature = line.partition("\t")
            tokens.append(f"{surface}/{feature.split(',', 1)[0]}" if with_pos else surface)
        return tokens


class KonlpyTokenizer(Tokenizer):
    """Okt, Komoran, Kkma or Hannanum from konlpy (JVM-based); only Okt takes options (stem, norm)."""

    def __init__(self, tagger: str, **options: Any) -> None:
        if tagger not in KONLPY_TAGGERS:
            raise ValueError(f"konlpy tagger {tagger!r}: expected one of {KONLPY_TAGGERS}")
        self.name = tagger
        super().__init__(**options)

    @property
    def version(self) -> str:
        return f"konlpy=={_package_version('konlpy')},jpype1=={_package_version('jpype1')}"

    def _make_tagger(self) -> object:
        from konlpy import tag

        classes = {"okt": tag.Okt, "komoran": tag.Komoran, "kkma": tag.Kkma, "hannanum": tag.Hannanum}
        return classes[self.name]()

    def _split(self, text: str) -> list[str]:
        if self.name == "okt":
            return self._tagger.morphs(text, norm=bool(self.options.get("norm")),
                                       stem=bool(self.options.get("stem")))
        return self._tagger.morphs(text)


def make_tokenizer(name: str, options: dict[str, Any] | None = None) -> Tokenizer:
    options = options or {}
    if name == "mecab":
        return MecabTokenizer(**options)
    if name in KONLPY_TAGGERS:
        return KonlpyTokenizer(name, **options)
    if name == "whitespace":
        return WhitespaceTokenizer(**options)
    if name == "english":
        return EnglishTokenizer(**options)
    if name == "chars":
        return CharTokenizer(**options)
    raise ValueError(f"tokenizer {name!r}: expected one of {TOKENIZERS}")
