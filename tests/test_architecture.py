"""The layering the README's Architecture section promises, checked on the source itself.

Every import (module level or inside a function; ``if TYPE_CHECKING:`` blocks excepted) must point
down the layers; ``models/`` is a leaf; only the kind implementations branch on the task kind.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

# The layer bands, bottom to top: each is one package of ``pipeline/`` (whose docstring starts
# "Layer: <band>."), except the foundations (a few top-level modules) and ``models`` and ``dags``.
# A module may import its own unit and units of a lower band; foundations may import each other.
BANDS = [
    ("foundations", ["pipeline.names", "pipeline.io", "pipeline.paths", "pipeline.results", "pipeline.plots",
                     "pipeline.progress", "pipeline.legacy", "pipeline.errors"]),
    ("models", ["models"]),
    ("corpora", ["pipeline.corpora"]),
    ("configuration", ["pipeline.config"]),
    ("text", ["pipeline.text"]),
    ("data checks", ["pipeline.checks"]),
    ("tracking", ["pipeline.tracking"]),
    ("registry", ["pipeline.registry"]),
    ("training runtime", ["pipeline.training"]),
    ("serving", ["pipeline.serving"]),
    ("task kinds", ["pipeline.kinds"]),
    ("stages", ["pipeline.stages"]),
    ("orchestration", ["pipeline.orchestration"]),
    ("command line", ["pipeline.cli"]),
    ("dags", ["dags"]),
]
RANK = {unit: rank for rank, (_, units) in enumerate(BANDS) for unit in units}
BAND_OF = {unit: band for band, units in BANDS for unit in units}
FOUNDATIONS = set(BANDS[0][1])
KIND_IMPLEMENTATIONS = ("pipeline.kinds",)
MAX_TOP_LEVEL_MODULES = 8


def _modules() -> dict[str, Path]:
    found = {}
    for root in ("pipeline", "models", "dags"):
        for path in sorted((PROJECT_ROOT / root).rglob("*.py")):
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def unit_of(module: str) -> str | None:
    """The layer unit a module belongs to: the longest unit that is it or contains it."""
    matches = [unit for unit in RANK if module == unit or module.startswith(unit + ".")]
    return max(matches, key=len) if matches else None


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from pipeline import tasks` imports the module pipeline.orchestration.tasks
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names
                         if f"{node.module}.{alias.name}" in MODULES)
    return found


def test_every_module_has_a_layer():
    assert [module for module in MODULES if unit_of(module) is None and module not in ("pipeline",)] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module):
    own = unit_of(module)
    if own is None:
        return
    upward = []
    for line, imported in _imports(MODULES[module]):
        target = unit_of(imported)
        if own in FOUNDATIONS and target in FOUNDATIONS:
            continue
        if target is not None and target != own and RANK[target] >= RANK[own]:
            upward.append(f"line {line}: {imported} ({target}, layer {RANK[target]} >= {RANK[own]})")
    assert upward == [], f"{module} ({own}, layer {RANK[own]}) imports upward or sideways: {upward}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("models")))
def test_models_are_a_leaf(module):
    outside = [imported for _, imported in _imports(MODULES[module])
               if imported.split(".")[0] in ("pipeline", "airflow", "mlflow", "dags")]
    assert outside == [], f"{module} imports {outside}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith(KIND_IMPLEMENTATIONS)))
def test_only_the_kind_implementations_branch_on_the_kind(module):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    branching = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            names_kind = any(isinstance(side, ast.Attribute) and side.attr in ("kind", "task") for side in sides)
            kind_literal = any(isinstance(side, ast.Constant) and side.value in ("classification", "translation")
                               for side in sides)
            if names_kind or kind_literal:
                branching.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] in ("is_seq2seq", "is_baseline"):
            branching.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert branching == [], f"{module} branches on the task kind: {branching}"


def test_pipeline_top_level_keeps_only_the_foundations():
    top_level = sorted(path.stem for path in (PROJECT_ROOT / "pipeline").glob("*.py") if path.stem != "__init__")
    assert len(top_level) <= MAX_TOP_LEVEL_MODULES, top_level
    assert {f"pipeline.{stem}" for stem in top_level} <= FOUNDATIONS, top_level


def test_every_package_is_one_band_and_says_which():
    packages = sorted(path.parent for path in (PROJECT_ROOT / "pipeline").glob("*/__init__.py"))
    assert packages, "no packages found"
    for package in packages:
        unit = f"pipeline.{package.name}"
        assert unit in BAND_OF, f"{unit} belongs to no band; add it to BANDS"
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8"))) or ""
        assert doc.startswith(f"Layer: {BAND_OF[unit]}."), f"{unit}'s docstring should start 'Layer: {BAND_OF[unit]}.'"


def test_names_module_is_standard_library_only():
    imported = {name.split(".")[0] for _, name in _imports(MODULES["pipeline.names"])}
    assert imported <= {"__future__"}, imported
