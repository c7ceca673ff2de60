"""Matplotlib set up once for every figure the pipeline logs: headless, with a Hangul font.

Korean labels (class names, review tokens, source sentences) must render as text, not as empty
boxes, on a machine with no Korean system font. The project depends on the NanumGothic files that
the ``koreanize-matplotlib`` wheel carries; only the font files are used, never that module (it
sets global state on import and imports ``distutils``, which newer Pythons lack).
"""

from __future__ import annotations

import functools
import importlib.metadata
from pathlib import Path
from typing import Sequence

import numpy as np

FONT_DISTRIBUTION = "koreanize-matplotlib"
FONT_FILE = "NanumGothic.ttf"
FONT_FAMILY = "NanumGothic"


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
    # NanumGothic first, the default (DejaVu Sans) after it for any glyph Nanum lacks.
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [FONT_FAMILY, *matplotlib.rcParams["font.sans-serif"]]
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
