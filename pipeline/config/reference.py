"""``docs/configuration.md``: every section and field of a pipeline's YAML, generated from the schema.

The descriptions are the fields' docstrings in the schema (``pipeline/config/schema.py``,
``models/config.py``, the readers' sections), so the reference cannot drift from the code:
``python -m pipeline.config.reference --check`` (and a test) fails when the file is stale.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from pipeline.config.schema import PipelineConfig
from pipeline.corpora import corpus_sections
from pipeline.paths import PROJECT_ROOT

REFERENCE_PATH = PROJECT_ROOT / "docs" / "configuration.md"


def _type_name(annotation) -> str:
    if annotation is PipelineConfig.model_fields["corpus"].annotation:
        return "one reader's section"
    text = repr(annotation) if not isinstance(annotation, type) else annotation.__name__
    # Annotated[int, FieldInfo(...)] says its constraints in the schema; the reference shows the type.
    text = re.sub(r"Annotated\[(\w+), FieldInfo\([^\]]*?\)\]", r"\1", text)
    return (text.replace("typing.", "").replace("pipeline.config.schema.", "").replace("models.config.", "")
            .replace("NoneType", "None").replace("<class '", "").replace("'>", "").replace("|", "\\|"))


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(see its section)"
    return f"`{json.dumps(value, ensure_ascii=False, default=str)}`"


def _description(field: FieldInfo) -> str:
    return " ".join((field.description or "").split()).replace("|", "\\|")


def _sub_models(annotation) -> list[type[BaseModel]]:
    """The config models an annotation holds: itself, or inside an Optional, a tuple or a dict."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in typing.get_args(annotation) for model in _sub_models(argument)]


def _table(model: type[BaseModel]) -> list[str]:
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        rows.append(f"| `{name}` | `{_type_name(field.annotation)}` | {_default(field)} | {_description(field)} |")
    return rows


def field_description(dotted: str) -> str:
    """The description of a dotted field of a pipeline's config (``train.epochs``), or ``""``."""
    model: type[BaseModel] = PipelineConfig
    field = None
    for part in dotted.split("."):
        if field is not None:
            models = _sub_models(field.annotation)
            if not models:
                return ""
            model = models[0]
        field = model.model_fields.get(part)
        if field is None:
            return ""
    return _description(field).replace("\\|", "|") if field else ""


def render_reference() -> str:
    lines = ["# Pipeline configuration reference", "",
             "Every field of a pipeline's YAML file (`pipeline/configs/*.yaml`, or your own in `RNNFLOW_PIPELINES`),",
             "with its type, default and meaning. Set any of them for one run with `--set section.field=value`.",
             "Generated from the schema by `python -m pipeline.config.reference`; do not edit by hand.", "",
             "## Top level", "", *_table(PipelineConfig)]
    done: set[type[BaseModel]] = {PipelineConfig}
    pending = [(name, model) for name, field in PipelineConfig.model_fields.items() if name != "corpus"
               for model in _sub_models(field.annotation)]
    while pending:
        path, model = pending.pop(0)
        if model in done:
            continue
        done.add(model)
        doc = " ".join((model.__doc__ or "").split()) if model.__doc__ != BaseModel.__doc__ else ""
        lines += ["", f"## `{path}`", "", *([doc, ""] if doc else []), *_table(model)]
        pending += [(f"{path}.{name}", sub) for name, field in model.model_fields.items()
                    for sub in _sub_models(field.annotation)]
    lines += ["", "## `corpus`: one section per reader", "",
              "`corpus.name` picks the reader; each reads the fields listed under it and no others."]
    for section in sorted(corpus_sections(), key=lambda s: s.model_fields["name"].default):
        name = section.model_fields["name"].default
        doc = " ".join((section.__doc__ or "").split())
        lines += ["", f"### `corpus.name: {name}` ({section.kind})", "", *([doc, ""] if doc else []),
                  *_table(section)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/configuration.md is stale")
    args = parser.parse_args(argv)
    text = render_reference()
    if args.check:
        current = REFERENCE_PATH.read_text(encoding="utf-8") if REFERENCE_PATH.is_file() else ""
        if current != text:
            print(f"{REFERENCE_PATH} is stale: run python -m pipeline.config.reference", file=sys.stderr)
            return 1
        return 0
    REFERENCE_PATH.parent.mkdir(parents=True, exist_ok=True)
    Path(REFERENCE_PATH).write_text(text, encoding="utf-8")
    print(f"wrote {REFERENCE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
