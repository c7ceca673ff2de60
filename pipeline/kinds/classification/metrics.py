"""Classification metrics and their presentation: pure functions of labels and probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict[str, float]:
    """accuracy, precision/recall/f1 (of class 1 when binary, macro otherwise) and macro_f1.

    Macro means over all ``num_classes`` classes. A prediction outside ``0..num_classes-1`` (a
    label the model's label set has and this run's lacks) is simply wrong.
    """
    labels = np.arange(num_classes)
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=None,
                                                               zero_division=0)
    positive = slice(1, 2) if num_classes == 2 else slice(None)
    return {"accuracy": float(accuracy_score(y_true, y_pred)), "precision": float(precision[positive].mean()),
            "recall": float(recall[positive].mean()), "f1": float(f1[positive].mean()),
            "macro_f1": float(f1.mean())}


def top_k_accuracy(y_true: np.ndarray, probabilities: np.ndarray, k: int) -> float:
    """Share of rows whose true class is among the k most probable."""
    if not 1 <= k <= probabilities.shape[1]:
        raise ValueError(f"k={k}: must be between 1 and the number of classes ({probabilities.shape[1]})")
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return float((top == np.asarray(y_true)[:, None]).any(axis=1).mean())


def per_class_report(y_true: np.ndarray, y_pred: np.ndarray, label_names: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support of every class, in label order."""
    labels = np.arange(len(label_names))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                                     zero_division=0)
    return pd.DataFrame({"label": list(label_names), "precision": precision.round(4), "recall": recall.round(4),
                         "f1": f1.round(4), "support": support})


def confusion(y_true: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    labels = np.arange(probabilities.shape[1])
    return confusion_matrix(y_true, probabilities.argmax(axis=1), labels=labels)


def confusion_matrix_figure(matrix: np.ndarray, label_names: Sequence[str], title: str):
    from pipeline.plots import pyplot

    plt = pyplot()

    size = max(4.0, 0.5 * len(label_names) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(label_names)), label_names, rotation=45, ha="right")
    axes.set_yticks(range(len(label_names)), label_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, col), count in np.ndenumerate(matrix):
        axes.text(col, row, f"{count:,}", ha="center", va="center",
                  color="white" if count > threshold else "black")
    figure.tight_layout()
    return figure


def misclassified_table(texts: Sequence[str], y_true: np.ndarray, probabilities: np.ndarray,
                        label_names: Sequence[str], limit: int = 200) -> pd.DataFrame:
    """The most confidently wrong predictions first: where a reader learns most."""
    y_pred = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    confidence = probabilities[wrong, y_pred[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:limit]
    return pd.DataFrame({
        "text": [texts[i] for i in order],
        "true": [label_names[y_true[i]] for i in order],
        "predicted": [label_names[y_pred[i]] for i in order],
        "confidence": probabilities[order, y_pred[order]].round(4),
    })
