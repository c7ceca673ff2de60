"""Overrides: ``--set key=value`` on the CLI and DAG params in Airflow, applied to a config's dict
before validation."""

from __future__ import annotations

import json
from typing import Any

import yaml

from pipeline import names
from pipeline.config.schema import ConfigError
from pipeline.corpora import corpus_sections
from pipeline.corpora.base import CorpusSection


def parse_override(item: str) -> tuple[str, Any]:
    """``"train.epochs=3"`` -> ``("train.epochs", 3)``; the value is parsed as YAML."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {item!r}: expected key=value, e.g. train.epochs=3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {key}: value {raw!r} is not valid YAML: {exc}") from exc
    return key, value


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys in a nested dict (a copy); unknown keys are caught by validation."""
    merged = json.loads(json.dumps(data))
    for dotted, value in overrides.items():
        node = merged
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {dotted}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return merged


def sets_dag_file_field(key: str, value: Any) -> bool:
    """Whether the override ``key=value`` sets one of ``names.DAG_FILE_FIELDS``, as ``tune.parallel=2``
    or as ``tune={parallel: 2}``."""
    for field in names.DAG_FILE_FIELDS:
        if key == field or key.startswith(field + "."):
            return True
        if field.startswith(key + ".") and isinstance(value, dict) and field[len(key) + 1:].split(".")[0] in value:
            return True
    return False


def switch_reader(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """When an override picks another corpus reader, keep only the corpus fields the two readers
    share by descent (split fractions, length filters...), not the old reader's own (its URLs,
    file glob, columns), which the new reader does not read."""
    corpus = data.get("corpus")
    new_name = overrides.get("corpus.name")
    if not isinstance(corpus, dict) or new_name is None or new_name == corpus.get("name"):
        return data
    sections = {section.model_fields["name"].default: section for section in corpus_sections()}
    old, new = sections.get(corpus.get("name")), sections.get(new_name)
    if old is None or new is None:
        return data  # validation names the unknown reader
    common = next(base for base in new.__mro__ if issubclass(base, CorpusSection) and base in old.__mro__)
    kept = {key: value for key, value in corpus.items() if key in common.model_fields and key != "name"}
    return {**data, "corpus": {**kept, "name": new_name}}
