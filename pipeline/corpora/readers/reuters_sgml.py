"""Reuters-21578 (Distribution 1.0) SGML: the ModApte split and the single-topic subsets R8/R52.

- ModApte: ``LEWISSPLIT`` TRAIN or TEST with ``TOPICS="YES"`` (NOT-USED documents are left out).
- R52: ModApte documents with exactly one topic, for topics with at least one train and one test
  document; R8: the same for the eight most frequent of them (acq, crude, earn, grain, interest,
  money-fx, ship, trade), as in Cardoso-Cachopo's widely used subsets.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.corpora.base import (
    ClassificationSection,
    CorpusRead,
    CorpusReader,
    drop_repeated_texts,
)
from pipeline.corpora.errors import CorpusFormatError

SGML_GLOB = "reut2-*.sgm"
R8_TOPICS = ("acq", "crude", "earn", "grain", "interest", "money-fx", "ship", "trade")
SUBSETS = ("modapte", "r8", "r52")

_DOCUMENT = re.compile(r"<REUTERS(?P<attributes>[^>]*)>(?P<body>.*?)</REUTERS>", re.S)
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
_TOPICS = re.compile(r"<TOPICS>(.*?)</TOPICS>", re.S)
_D = re.compile(r"<D>(.*?)</D>", re.S)
_TITLE = re.compile(r"<TITLE>(.*?)</TITLE>", re.S)
_BODY = re.compile(r"<BODY>(.*?)</BODY>", re.S)
_TEXT = re.compile(r"<TEXT[^>]*>(.*?)</TEXT>", re.S)
_TAG = re.compile(r"<[^>]+>")
# The elements whose text or topics a document is read from: each must close what it opens, or a
# truncated tag would silently cost the document its body or its topic.
_ELEMENTS = ("TOPICS", "D", "TITLE", "BODY", "TEXT")
_OPEN = {name: re.compile(rf"<{name}[\s>]") for name in _ELEMENTS}
_CLOSE = {name: re.compile(rf"</{name}>") for name in _ELEMENTS}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ReutersDocument:
    new_id: str
    lewis_split: str
    """TRAIN, TEST or NOT-USED"""
    has_topics: bool
    """the TOPICS="YES" attribute"""
    topics: tuple[str, ...]
    text: str
    """title and body, entities decoded, whitespace collapsed"""


def _clean(fragment: str) -> str:
    text = html.unescape(_TAG.sub(" ", fragment))
    return _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()


def parse_sgml(path: Path) -> list[ReutersDocument]:
    """Every ``<REUTERS>`` document of one file; an unterminated document is an error."""
    # The distribution is ASCII with a few stray high bytes: latin-1 reads every byte as is.
    content = path.read_bytes().decode("latin-1")
    documents = []
    for match in _DOCUMENT.finditer(content):
        attributes = dict(_ATTRIBUTE.findall(match["attributes"]))
        missing = {"NEWID", "LEWISSPLIT", "TOPICS"} - set(attributes)
        if missing:
            line = content.count("\n", 0, match.start()) + 1
            raise CorpusFormatError(f"{path}:{line}: <REUTERS> lacks attribute(s) {sorted(missing)}")
        body = match["body"]
        for name in _ELEMENTS:
            opened, closed = len(_OPEN[name].findall(body)), len(_CLOSE[name].findall(body))
            if opened != closed:
                line = content.count("\n", 0, match.start()) + 1
                raise CorpusFormatError(f"{path}:{line}: <REUTERS NEWID=\"{attributes['NEWID']}\"> opens <{name}> "
                                        f"{opened} time(s) but closes it {closed} (a truncated tag?)")
        topics_block = _TOPICS.search(body)
        topics = tuple(_clean(t) for t in _D.findall(topics_block[1])) if topics_block else ()
        title, main = _TITLE.search(body), _BODY.search(body)
        if title or main:
            text = " ".join(_clean(part[1]) for part in (title, main) if part)
        else:  # TYPE="UNPROC" or "BRIEF" documents keep their text unstructured
            text_block = _TEXT.search(body)
            text = _clean(text_block[1]) if text_block else ""
        documents.append(ReutersDocument(attributes["NEWID"], attributes["LEWISSPLIT"],
                                         attributes["TOPICS"] == "YES", topics, text))
    opened = content.count("<REUTERS")
    if opened != len(documents):
        raise CorpusFormatError(f"{path}: {opened} <REUTERS> opened but {len(documents)} complete")
    return documents


def read_distribution(folder: Path) -> list[ReutersDocument]:
    files = sorted(Path(folder).glob(SGML_GLOB))
    if not files:
        raise CorpusFormatError(f"{folder}: no {SGML_GLOB} files (the Reuters-21578 SGML distribution)")
    return [document for path in files for document in parse_sgml(path)]


def modapte(documents: list[ReutersDocument]) -> list[tuple[ReutersDocument, str]]:
    """(document, "train" | "test") for the ModApte split."""
    splits = {"TRAIN": "train", "TEST": "test"}
    return [(doc, splits[doc.lewis_split]) for doc in documents
            if doc.has_topics and doc.lewis_split in splits]


def single_topic_subset(documents: list[ReutersDocument], subset: str) -> list[tuple[ReutersDocument, str, str]]:
    """(document, split, topic) for R8 or R52; documents with no text are left out."""
    if subset not in ("r8", "r52"):
        raise ValueError(f"subset={subset!r}: expected 'r8' or 'r52'")
    single = [(doc, split, doc.topics[0]) for doc, split in modapte(documents)
              if len(doc.topics) == 1 and doc.text]
    by_split = {split: Counter(topic for _, s, topic in single if s == split) for split in ("train", "test")}
    topics = {topic for topic in by_split["train"] if by_split["test"][topic] > 0}
    if subset == "r8":
        topics &= set(R8_TOPICS)
    return [(doc, split, topic) for doc, split, topic in single if topic in topics]


class ReutersSgmlCorpus(ClassificationSection):
    name: Literal["reuters_sgml"] = "reuters_sgml"
    subset: Literal["r8", "r52"]
    """The single-topic subset to build: R8 (the 8 most frequent topics) or R52."""


class ReutersSgmlReader(CorpusReader):
    """The Reuters-21578 distribution from a local folder; R8 or R52 by ``corpus.subset``."""

    name = "reuters_sgml"
    Section = ReutersSgmlCorpus

    def locate(self, folder: Path, corpus: ReutersSgmlCorpus) -> dict[str, Path]:
        if not folder.is_dir():
            raise FileNotFoundError(f"corpus.source {folder}: not a folder")
        found = sorted(folder.glob(SGML_GLOB))
        if not found:
            raise CorpusFormatError(f"{folder}: no {SGML_GLOB} files (the Reuters-21578 SGML distribution)")
        return {path.name: path for path in found}

    def read(self, files: dict[str, Path], corpus: ReutersSgmlCorpus) -> CorpusRead:
        import numpy as np
        import pandas as pd

        documents = [document for name in sorted(files) for document in parse_sgml(files[name])]
        chosen = single_topic_subset(documents, corpus.subset)
        label_names = sorted({topic for _, _, topic in chosen})
        label_ids = {topic: i for i, topic in enumerate(label_names)}
        modapte_counts = Counter(split for _, split in modapte(documents))
        splits, reports = {}, {}
        for split in ("train", "test"):
            rows = [(doc.new_id, doc.text, label_ids[topic]) for doc, s, topic in chosen if s == split]
            frame = pd.DataFrame(rows, columns=["id", "text", "label"]).astype({"label": np.int64})
            dropped = Counter({f"not_single_topic_{corpus.subset}": modapte_counts[split] - len(frame)})
            frame = drop_repeated_texts(frame, dropped) if split == "train" and corpus.drop_train_duplicates \
                else frame
            splits[split] = frame
            reports[split] = {"files": sorted(files), "rows_read": modapte_counts[split], "dropped": dict(+dropped),
                              "repaired": {}}
        return CorpusRead(splits, label_names, reports)


READER = ReutersSgmlReader()
