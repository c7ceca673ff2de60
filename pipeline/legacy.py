"""Module paths of earlier rnnflow layouts, kept importable for models registered before a move.

A registered model's pickle names its ``PythonModel`` class by module path (for example
``pipeline.classification.serving.RawTextClassifier``), so a version logged before the packages
were regrouped would no longer unpickle in a process that imports today's ``pipeline``. The
finder below answers an old path with today's module object: old and new names are the same
module, never two copies.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

# Old module path (or package prefix) -> today's. Longest prefix wins. (``pipeline.serving`` was a
# module and is now the package that re-exports what it held, under the same name.)
MOVED = {
    "pipeline.classification": "pipeline.kinds.classification",
    "pipeline.translation": "pipeline.kinds.translation",
    "pipeline.features": "pipeline.kinds.features",
    "pipeline.fitting": "pipeline.training.fitting",
    "pipeline.devices": "pipeline.training.devices",
    "pipeline.significance": "pipeline.registry.significance",
    "pipeline.lineage": "pipeline.tracking.lineage",
    "pipeline.validation": "pipeline.checks.report",
}


def current_name(old: str) -> str | None:
    """Today's module path for an old one, or None when ``old`` did not move."""
    for prefix in sorted(MOVED, key=len, reverse=True):
        if old == prefix or old.startswith(prefix + "."):
            new = MOVED[prefix] + old[len(prefix):]
            return new if new != old else None
    return None


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The target module ran when it was imported; nothing more to run."""


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in sys.modules:
            return None
        new = current_name(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Answer old module paths for the rest of this process (idempotent)."""
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        # First: the parent package of an old path is today's, so the path finder would otherwise load
        # a second copy of the submodule under the old name.
        sys.meta_path.insert(0, MovedModuleFinder())
