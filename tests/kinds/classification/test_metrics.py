import numpy as np
import pytest

from pipeline.kinds.classification.metrics import (
    classification_metrics,
    confusion,
    misclassified_table,
    per_class_report,
    top_k_accuracy,
)


def test_binary_metrics_and_confusion():
    y_true = np.array([1, 1, 0, 0])
    probabilities = np.array([[0.1, 0.9], [0.7, 0.3], [0.8, 0.2], [0.4, 0.6]])
    scores = classification_metrics(y_true, probabilities.argmax(axis=1), 2)
    assert scores["accuracy"] == 0.5
    assert scores["precision"] == 0.5 and scores["recall"] == 0.5
    assert confusion(y_true, probabilities).tolist() == [[1, 1], [1, 1]]


def test_misclassified_table_most_confident_first():
    y_true = np.array([1, 0, 0])
    probabilities = np.array([[0.6, 0.4], [0.1, 0.9], [0.9, 0.1]])
    table = misclassified_table(["a", "b", "c"], y_true, probabilities, ["neg", "pos"])
    assert table["text"].tolist() == ["b", "a"]
    assert table["predicted"].tolist() == ["pos", "neg"]


def test_top_k_accuracy():
    probabilities = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    y_true = np.array([1, 2, 2])
    assert top_k_accuracy(y_true, probabilities, 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(y_true, probabilities, 2) == pytest.approx(2 / 3)
    assert top_k_accuracy(y_true, probabilities, 3) == 1.0
    with pytest.raises(ValueError, match="k=4"):
        top_k_accuracy(y_true, probabilities, 4)


def test_per_class_report_lists_every_class_even_unseen():
    report = per_class_report(np.array([0, 0, 1]), np.array([0, 1, 1]), ["a", "b", "c"])
    assert report["label"].tolist() == ["a", "b", "c"]
    assert report["support"].tolist() == [2, 1, 0]
    assert report.loc[0, "precision"] == 1.0 and report.loc[1, "recall"] == 1.0


def test_metrics_match_sklearn_and_count_unknown_labels_as_wrong():
    from sklearn.metrics import f1_score, precision_score

    y_true = np.array([0, 1, 2, 2, 1, 0, 2])
    y_pred = np.array([0, 2, 2, 1, 1, 0, 0])
    scores = classification_metrics(y_true, y_pred, 3)
    assert scores["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert scores["precision"] == pytest.approx(precision_score(y_true, y_pred, average="macro"))
    binary = classification_metrics(np.array([1, 0, 1, 1]), np.array([1, 0, 0, 1]), 2)
    assert binary["f1"] == pytest.approx(f1_score([1, 0, 1, 1], [1, 0, 0, 1]))
    # -1: a label from another label set (a champion trained on R8 scored on R52's test split).
    unknown = classification_metrics(np.array([0, 1, 2]), np.array([0, -1, -1]), 3)
    assert unknown["accuracy"] == pytest.approx(1 / 3) and unknown["macro_f1"] == pytest.approx(1 / 3)
