"""Paired comparison of two classifiers' test predictions (``pipeline.registry.significance``): McNemar for
accuracy, a paired bootstrap for F1 and macro-F1, each computed on resampled confusion counts."""

from __future__ import annotations

import numpy as np

from pipeline.registry.significance import (
    BOOTSTRAP_SAMPLES,
    Comparison,
    mcnemar,
    paired_bootstrap,
)


def f1_from_confusions(confusions: np.ndarray, metric: str) -> np.ndarray:
    """F1 of class 1 (binary ``f1``) or the mean over classes (``macro_f1``, and ``f1`` with more
    than two classes), for a stack of (k, classes, classes + 1) confusion counts (true x predicted,
    the last column for predictions of no known class), as
    ``pipeline.kinds.classification.metrics.classification_metrics`` defines them."""
    classes = confusions.shape[1]
    true_positive = np.diagonal(confusions[:, :, :classes], axis1=1, axis2=2).astype(float)
    predicted = confusions[:, :, :classes].sum(axis=1)
    actual = confusions.sum(axis=2)
    denominator = predicted + actual
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    if metric == "f1" and classes == 2:
        return f1[:, 1]
    return f1.mean(axis=1)


def _confusions(y_true: np.ndarray, y_pred: np.ndarray, indices: np.ndarray, classes: int) -> np.ndarray:
    """Confusion counts of each resample (a row of ``indices``); a prediction outside the classes
    (a label this run does not know) counts as a wrong prediction of no class."""
    k = indices.shape[0]
    true, pred = y_true[indices], y_pred[indices]
    known = (pred >= 0) & (pred < classes)
    cells = (np.arange(k)[:, None] * classes + true) * (classes + 1) + np.where(known, pred, classes)
    counts = np.bincount(cells.ravel(), minlength=k * classes * (classes + 1))
    return counts.reshape(k, classes, classes + 1)


def compare_classifiers(y_true: np.ndarray, candidate: np.ndarray, champion: np.ndarray, metric: str,
                        classes: int, seed: int = 0, samples: int = BOOTSTRAP_SAMPLES) -> Comparison:
    """Candidate against champion on the same test rows (label ids; -1 for a label unknown here)."""
    y_true, candidate, champion = (np.asarray(a, dtype=np.int64) for a in (y_true, candidate, champion))
    if metric == "accuracy":
        return mcnemar(metric, candidate == y_true, champion == y_true)

    def scores(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (f1_from_confusions(_confusions(y_true, candidate, indices, classes), metric),
                f1_from_confusions(_confusions(y_true, champion, indices, classes), metric))

    return paired_bootstrap(metric, len(y_true), scores, samples=samples, seed=seed)
