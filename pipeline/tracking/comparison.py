"""The architecture comparison of one DAG run: a table and a bar chart for the parent MLflow run."""

from __future__ import annotations

import pandas as pd

from pipeline.names import PERCENT_METRICS, TEST_METRIC_PREFIX

# The costs every comparison shows after the kind's two scores.
COSTS = ["param_count", "train_seconds", "test_inference_sentences_per_second"]


def comparison_frame(models: dict[str, dict], scores: tuple[str, str]) -> pd.DataFrame:
    """One row per trained model, best first by the first of the kind's two scores."""
    columns = ["model", *scores, *COSTS]
    rows = [{"model": arch, **{column: figures.get(column) for column in columns[1:]}}
            for arch, figures in models.items()]
    return pd.DataFrame(rows, columns=columns).sort_values(columns[1], ascending=False, ignore_index=True)


def comparison_figure(frame: pd.DataFrame, title: str):
    from pipeline.plots import pyplot

    plt = pyplot()
    import numpy as np

    first, second = frame.columns[1], frame.columns[2]
    percent = first.removeprefix(TEST_METRIC_PREFIX) in PERCENT_METRICS
    positions = np.arange(len(frame))
    figure, axes = plt.subplots(figsize=(8, 1.0 + 0.6 * len(frame)))
    bar_height = 0.4
    for offset, column in ((-bar_height / 2, first), (bar_height / 2, second)):
        bars = axes.barh(positions + offset, frame[column], height=bar_height,
                         label=column.removeprefix("test_").replace("_", "-"))
        axes.bar_label(bars, fmt="%.2f" if percent else "%.4f", padding=2, fontsize=8)
    axes.set_yticks(positions, frame["model"])
    axes.invert_yaxis()
    top = 100.0 if percent else 1.0
    low = float(min(frame[first].min(), frame[second].min()))
    axes.set_xlim(0.0 if percent else max(0.0, low - 0.05), top)
    axes.set_xlabel("test split")
    axes.set_title(title)
    # Outside the axes: inside, it hid the value labels of the bottom bars.
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    figure.tight_layout()
    return figure
