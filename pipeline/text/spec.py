"""The text spec: how a model's texts became ids, written once by the features stage and read by
evaluation, data checks, the served model and ``rnnflow lineage``.

Every task kind has a source side (the classifier's text, the translator's source sentences);
translation adds a target side. Each side records its text settings, the tokenizer's identity
(name, version, options) and its padded length, so serving rebuilds the same ids and lineage can
name the tokenizer of every side. This module is the only one that knows the file's keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import TextConfig
from pipeline.io import read_json, write_json

# 2: a "source" and an optional "target" side. Files without "format" are the first layout, whose
# keys differed by kind (text_config/processor/max_len; source_text_config/source_processor/...).
FORMAT = 2


@dataclass(frozen=True)
class TextSide:
    config: TextConfig
    processor: dict[str, Any]    # TextProcessor.identity(): cleaner, tokenizer, stopwords, code version
    length: int                  # the padded id length

    @property
    def tokenizer(self) -> dict[str, Any]:
        return self.processor["tokenizer"]

    def to_json(self) -> dict[str, Any]:
        return {"text_config": self.config.model_dump(mode="json"), "processor": self.processor, "length": self.length}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TextSide:
        return cls(TextConfig.model_validate(data["text_config"]), data["processor"], int(data["length"]))


@dataclass(frozen=True)
class TextSpec:
    source: TextSide
    table_path: str                               # the canonical table the features were built from
    target: TextSide | None = None                # translation: the target side
    label_names: list[str] = field(default_factory=list)   # classification: class id -> label
    test_oov_rate: float | None = None            # classification: the test split's unknown-token share
    max_output_len: int | None = None             # translation: the longest decoded output
    decode: dict[str, Any] = field(default_factory=dict)   # translation: the decoding defaults

    def sides(self) -> dict[str, TextSide]:
        """Side name -> side: ``source``, and ``target`` where there is one."""
        return {"source": self.source, **({"target": self.target} if self.target else {})}

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "source": self.source.to_json(),
                "target": self.target.to_json() if self.target else None,
                "table_path": self.table_path, "label_names": list(self.label_names),
                "test_oov_rate": self.test_oov_rate, "max_output_len": self.max_output_len, "decode": self.decode}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TextSpec:
        if "format" not in data:
            return _from_first_layout(data)
        return cls(source=TextSide.from_json(data["source"]), table_path=data["table_path"],
                   target=TextSide.from_json(data["target"]) if data.get("target") else None,
                   label_names=list(data.get("label_names") or []), test_oov_rate=data.get("test_oov_rate"),
                   max_output_len=data.get("max_output_len"), decode=data.get("decode") or {})

    def write(self, path: Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def read(cls, path: str | Path) -> TextSpec:
        return cls.from_json(read_json(Path(path)))

    @classmethod
    def loads(cls, text: str) -> TextSpec:
        return cls.from_json(json.loads(text))


def _from_first_layout(data: dict[str, Any]) -> TextSpec:
    """Specs written before the format field: models registered then keep loading."""
    if "source_text_config" in data:
        return TextSpec(
            source=TextSide(TextConfig.model_validate(data["source_text_config"]), data["source_processor"],
                            int(data["source_len"])),
            target=TextSide(TextConfig.model_validate(data["target_text_config"]), data["target_processor"],
                            int(data["target_len"])),
            table_path=data["table_path"], max_output_len=int(data["max_output_len"]), decode=data["decode"])
    return TextSpec(source=TextSide(TextConfig.model_validate(data["text_config"]), data["processor"],
                                    int(data["max_len"])),
                    table_path=data["table_path"], label_names=list(data["label_names"]),
                    test_oov_rate=data.get("test_oov_rate"))
