import numpy as np

from pipeline.metrics import classification_metrics, confusion, misclassified_table


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
