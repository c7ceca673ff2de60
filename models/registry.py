"""Model builders by name: ``models/<family>/<name>.py`` defines ``build(...)``.

The architecture's name is its file's name, so adding one is adding a file. Names are listed
from the folders without importing them: listing or validating names never imports TensorFlow
(DAG parsing and config validation stay fast).

Families and their builders' signatures:
- ``classifiers``: ``build(config, vocab_size, num_classes) -> keras.Model`` (token ids -> probabilities)
- ``baselines``: ``build(config, num_classes) -> sklearn Pipeline`` (space-joined tokens -> probabilities:
  a ``tfidf`` step, then a ``classifier`` step), and ``REGULARIZATION``, the ``ModelConfig`` field the
  validation split chooses (its grid is the field ``<REGULARIZATION>_grid``)
- ``translators``: ``build(config, source_vocab, target_vocab) -> keras.Model`` (encoder-decoders)
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

    from models.config import ModelConfig

FAMILIES = ("classifiers", "baselines", "translators")
_ROOT = Path(__file__).parent


@functools.cache
def _families() -> dict[str, str]:
    """Architecture name -> family, from the builder files."""
    found: dict[str, str] = {}
    for family in FAMILIES:
        for path in sorted((_ROOT / family).glob("*.py")):
            if path.stem.startswith("_"):
                continue
            if path.stem in found:
                raise RuntimeError(f"architecture {path.stem!r} is defined in both {found[path.stem]} and {family}")
            found[path.stem] = family
    return found


def architectures(family: str | None = None) -> list[str]:
    """Every architecture's name, or those of one family, sorted."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family {family!r}: expected one of {FAMILIES}")
    return sorted(name for name, of in _families().items() if family in (None, of))


def family_of(name: str) -> str:
    try:
        return _families()[name]
    except KeyError:
        raise KeyError(f"model {name!r}: no builder registered; known: {architectures()}") from None


def builder(name: str, family: str) -> Callable:
    """The ``build`` function of ``name``, which must belong to ``family``."""
    actual = family_of(name)
    if actual != family:
        raise KeyError(f"model {name!r} is one of the {actual}, not the {family} "
                       f"({', '.join(architectures(family))})")
    return importlib.import_module(f"models.{family}.{name}").build


def build_classifier(name: str, config: ModelConfig, vocab_size: int, num_classes: int = 2) -> keras.Model:
    return builder(name, "classifiers")(config, vocab_size, num_classes)


def build_baseline(name: str, config: ModelConfig, num_classes: int = 2):
    return builder(name, "baselines")(config, num_classes)


def baseline_regularization(name: str) -> str:
    builder(name, "baselines")  # a baseline's name, or the error that lists them
    return importlib.import_module(f"models.baselines.{name}").REGULARIZATION


def build_translator(name: str, config: ModelConfig, source_vocab: int, target_vocab: int) -> keras.Model:
    return builder(name, "translators")(config, source_vocab, target_vocab)
