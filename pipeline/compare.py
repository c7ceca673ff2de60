"""The architecture comparison of one DAG run: a table and a bar chart for the parent MLflow run."""

from __future__ import annotations

import pandas as pd

COLUMNS = ["model", "test_accuracy", "test_macro_f1", "param_count", "train_seconds",
           "test_inference_sentences_per_second"]


def comparison_frame(models: dict[str, dict]) -> pd.DataFrame:
    """One row per trained model, best test accuracy first."""
    rows = [{"model": arch, **{column: figures.get(column) for column in COLUMNS[1:]}}
            for arch, figures in models.items()]
    return pd.DataFrame(rows, columns=COLUMNS).sort_values("test_accuracy", ascending=False, ignore_index=True)


def comparison_figure(frame: pd.DataFrame, title: str):
    from pipeline.plots import pyplot

    plt = pyplot()
    import numpy as np

    positions = np.arange(len(frame))
    figure, axes = plt.subplots(figsize=(8, 1.0 + 0.6 * len(frame)))
    bar_height = 0.4
    for offset, column, label in ((-bar_height / 2, "test_accuracy", "accuracy"),
                                  (bar_height / 2, "test_macro_f1", "macro-F1")):
        bars = axes.barh(positions + offset, frame[column], height=bar_height, label=label)
        axes.bar_label(bars, fmt="%.4f", padding=2, fontsize=8)
    axes.set_yticks(positions, frame["model"])
    axes.invert_yaxis()
    low = float(min(frame["test_accuracy"].min(), frame["test_macro_f1"].min()))
    axes.set_xlim(max(0.0, low - 0.05), 1.0)
    axes.set_xlabel("test split")
    axes.set_title(title)
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure
