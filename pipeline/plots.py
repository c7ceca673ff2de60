"""Matplotlib set up once for every figure the pipeline logs: headless, with a Hangul font.

Korean labels (class names, review tokens, source sentences) must render as text, not as empty
boxes, on a machine with no Korean system font. The project depends on the NanumGothic files that
the ``koreanize-matplotlib`` wheel carries; only the font files are used, never that module (it
sets global state on import and imports ``distutils``, which newer Pythons lack).
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

FONT_DISTRIBUTION = "koreanize-matplotlib"
FONT_FILE = "NanumGothic.ttf"
FONT_FAMILY = "NanumGothic"
FALLBACK_FONT_FAMILY = "DejaVu Sans"  # ships inside matplotlib


def korean_font_path() -> Path:
    files = importlib.metadata.files(FONT_DISTRIBUTION) or []
    for file in files:
        if file.name == FONT_FILE:
            path = Path(file.locate())
            if path.is_file():
                return path
    raise FileNotFoundError(f"{FONT_FILE} not found in the installed {FONT_DISTRIBUTION} package; "
                            f"run `make env` to install the project's dependencies")


@functools.cache
def pyplot():
    """``matplotlib.pyplot`` on the Agg backend with NanumGothic first in the sans-serif list."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(korean_font_path()))
    # NanumGothic first, then matplotlib's own DejaVu Sans for any glyph Nanum lacks (the "▁" that
    # marks subword and character-level word starts). Glyph fallback only walks an explicit
    # font.family list: the generic "sans-serif" resolves to one font and draws missing glyphs as boxes.
    matplotlib.rcParams["font.sans-serif"] = [FONT_FAMILY, *matplotlib.rcParams["font.sans-serif"]]
    matplotlib.rcParams["font.family"] = [FONT_FAMILY, FALLBACK_FONT_FAMILY]
    matplotlib.rcParams["axes.unicode_minus"] = False  # Nanum has no U+2212 minus sign
    return plt


def attention_heatmap(examples: Sequence[dict], title: str):
    """One strip per example: its tokens along x, shaded by attention weight.

    Each example is ``{"tokens": [...], "weights": [...], "caption": str}`` with one weight per
    token (padding already removed).
    """
    plt = pyplot()
    if not examples:
        raise ValueError("attention_heatmap needs at least one example")
    widest = max(len(example["tokens"]) for example in examples)
    figure, axes_list = plt.subplots(len(examples), 1, squeeze=False, layout="constrained",
                                     figsize=(max(6.0, 0.55 * widest + 1.5), 1.45 * len(examples) + 0.8))
    vmax = max(float(np.max(example["weights"])) for example in examples)
    image = None
    for axes, example in zip(axes_list[:, 0], examples):
        weights = np.asarray(example["weights"], dtype=float)[None, :]  # (1, tokens)
        image = axes.imshow(weights, cmap="Reds", vmin=0.0, vmax=vmax, aspect="auto")
        axes.set_xticks(range(len(example["tokens"])), example["tokens"], rotation=60, ha="right", fontsize=9)
        axes.set_yticks([])
        axes.set_title(example["caption"], fontsize=9, loc="left")
        for position, weight in enumerate(weights[0]):
            axes.text(position, 0, f"{weight:.2f}", ha="center", va="center", fontsize=6,
                      color="white" if weight > 0.6 * vmax else "black")
    figure.suptitle(title)
    figure.colorbar(image, ax=axes_list[:, 0].tolist(), fraction=0.02, pad=0.01, label="attention weight")
    return figure


def alignment_heatmap(examples: Sequence[dict], title: str):
    """One panel per example: output tokens (rows) against source tokens (columns).

    Each example is ``{"source_tokens", "output_tokens", "weights" (outputs x sources), "caption"}``.
    """
    plt = pyplot()
    if not examples:
        raise ValueError("alignment_heatmap needs at least one example")
    columns = min(3, len(examples))
    rows = (len(examples) + columns - 1) // columns
    widest = max(len(e["source_tokens"]) for e in examples)
    tallest = max(len(e["output_tokens"]) for e in examples)
    figure, axes_grid = plt.subplots(rows, columns, squeeze=False, layout="constrained",
                                     figsize=(columns * max(3.5, 0.42 * widest + 1.5),
                                              rows * max(3.0, 0.36 * tallest + 1.8)))
    for axes in axes_grid.flat[len(examples):]:
        axes.axis("off")
    for axes, example in zip(axes_grid.flat, examples):
        weights = np.asarray(example["weights"], dtype=float)
        axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=max(1e-9, float(weights.max())), aspect="auto")
        axes.set_xticks(range(len(example["source_tokens"])), example["source_tokens"], rotation=60,
                        ha="right", fontsize=8)
        axes.set_yticks(range(len(example["output_tokens"])), example["output_tokens"], fontsize=8)
        axes.set_title(example["caption"], fontsize=8, loc="left")
    figure.suptitle(title)
    return figure
