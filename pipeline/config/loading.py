"""Finding pipelines (built in and the user's ``RNNFLOW_PIPELINES``), loading one from YAML with
overrides, and validating it with errors that name the field."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline import names
from pipeline.config.overrides import (
    apply_overrides,
    parse_override,
    sets_dag_file_field,
    switch_reader,
)
from pipeline.config.schema import ConfigError, PipelineConfig
from pipeline.corpora import corpus_reader, reader_names

# The built-in pipelines' YAML files.
CONFIG_DIR = Path(__file__).parents[1] / "configs"


def discover_pipelines() -> tuple[dict[str, Path], list[str]]:
    """Pipeline name (the YAML file's stem) -> file: the built-in pipelines, then the user's
    folders and files (``RNNFLOW_PIPELINES``, separated like PATH); and a problem per file that
    cannot be used (a user's file may not take a built-in pipeline's name)."""
    found = {path.stem: path for path in sorted(CONFIG_DIR.glob("*.yaml"))}
    problems = []
    for entry in filter(None, os.environ.get(names.PIPELINES_ENV, "").strip().split(os.pathsep)):
        where = Path(entry).expanduser()
        if where.is_file() and where.suffix in (".yaml", ".yml"):
            candidates = [where]
        elif where.is_dir():
            candidates = [path for path in sorted(where.glob("*.y*ml")) if path.suffix in (".yaml", ".yml")]
        else:
            problems.append(f"{names.PIPELINES_ENV} entry {entry}: neither a folder nor a .yaml file")
            continue
        for path in candidates:
            if path.stem in found:
                if found[path.stem].resolve() != path.resolve():
                    problems.append(f"{path}: pipeline {path.stem!r} is already defined by {found[path.stem]}")
                continue
            found[path.stem] = path
    return found, problems


def pipeline_files() -> dict[str, Path]:
    found, problems = discover_pipelines()
    if problems:
        raise ConfigError(problems[0])
    return found


def load_config(pipeline: str | Path, overrides: dict[str, Any] | list[str] | None = None) -> PipelineConfig:
    """Load ``pipeline`` (a pipeline's name or a YAML path), apply overrides, validate."""
    path = Path(pipeline)
    if path.suffix not in (".yaml", ".yml"):
        known, problems = discover_pipelines()
        if str(pipeline) not in known:
            mentioned = [problem for problem in problems if f"{pipeline!r}" in problem]
            raise ConfigError(mentioned[0] if mentioned else
                              f"pipeline {pipeline!r}: no such pipeline (known: {sorted(known)})")
        path = known[str(pipeline)]
    if not path.is_file():
        raise ConfigError(f"config {path}: no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: top level must be a mapping")
    data.setdefault("pipeline", path.stem)
    if data["pipeline"] != path.stem:
        raise ConfigError(f"config {path}: pipeline: {data['pipeline']!r} must be the file's name, {path.stem!r}")
    if isinstance(overrides, list):
        overrides = dict(parse_override(item) for item in overrides)
    fixed = sorted(key for key, value in (overrides or {}).items() if sets_dag_file_field(key, value))
    if fixed:
        these = "this field" if len(fixed) == 1 else "these fields"
        raise ConfigError(f"{', '.join(fixed)}: read when the DAG file is parsed, so a run's overrides cannot change "
                          f"{these}; set {'it' if len(fixed) == 1 else 'them'} in {path}")
    data = apply_overrides(switch_reader(data, overrides or {}), overrides or {})
    return validate_config(data, origin=str(path))


def validate_config(data: dict[str, Any], origin: str = "<dict>") -> PipelineConfig:
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        if len(problems) == 1:  # the usual case: one line, as every user error is
            raise ConfigError(f"config {origin} is invalid: {problems[0]}") from None
        raise ConfigError(f"config {origin} is invalid:\n  " + "\n  ".join(problems)) from None


def _describe(error: dict) -> str:
    """One validation error as ``field: what is wrong``, in the config's own terms."""
    loc = [str(part) for part in error["loc"]]
    if loc[:1] == ["corpus"] and len(loc) > 1 and loc[1] in reader_names():
        reader = loc.pop(1)  # the union's tag: say it in words, not in the field path
        field = ".".join(loc)
        if error["type"] == "extra_forbidden":
            section = corpus_reader(reader).Section
            return (f"{field}: the {reader} reader does not read this field "
                    f"(it reads {sorted(set(section.model_fields) - {'name'})})")
    field = ".".join(loc) or "<root>"
    if error["type"] == "union_tag_invalid":
        return f"{field}.name: unknown reader {error['input'].get('name')!r}; the readers are {list(reader_names())}"
    if error["type"] == "union_tag_not_found":
        return f"{field}.name: missing; the readers are {list(reader_names())}"
    message = error["msg"]
    if error["type"] == "value_error":
        # Model validators' messages start with the field they are about, relative to `loc`;
        # a field validator's message is about `loc` itself.
        message = message.removeprefix("Value error, ")
        if not loc:
            return message
        return f"{field}.{message}" if re.match(r"^[A-Za-z_][\w.]*: ", message) else f"{field}: {message}"
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "missing":
        message = "required field missing"
    elif "input" in error:
        message += f" (got {error['input']!r})"
    return f"{field}: {message}"


def config_from_yaml_text(text: str, origin: str) -> PipelineConfig:
    return validate_config(yaml.safe_load(text), origin=origin)
