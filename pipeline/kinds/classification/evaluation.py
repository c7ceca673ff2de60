"""Evaluating a classifier on the test split: metrics, confusion matrix, per-class report, the most
confidently wrong predictions, and attention heatmaps for attention models."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from models.text_classifier import has_attention
from pipeline.io import read_json
from pipeline.kinds.classification import metrics as metric_fns
from pipeline.kinds.classification.features import (
    VOCAB_FILE,
    ClassificationFeatures,
    split_texts,
    split_tokens,
)
from pipeline.plots import attention_heatmap
from pipeline.results import (
    FEATURES_FILE,
    TEXT_SPEC_FILE,
    TrainResult,
    predictions_artifact,
)
from pipeline.text.spec import TextSpec

log = logging.getLogger(__name__)

# Attention heatmaps: how many test sentences, and the longest that still reads as one strip.
ATTENTION_EXAMPLES = 8
ATTENTION_MAX_TOKENS = 24


# Each model's class probabilities on the validation and test splits, in its run: what an
# ensemble of the run's models is chosen (on validation) and scored (on test) from.
PROBABILITIES_ARTIFACT = "evaluation/probabilities.npz"


def evaluate_classifier(prepared: ClassificationFeatures, trained: TrainResult) -> dict[str, float]:
    """Test metrics; the confusion matrix, per-class report, misclassified texts and attention
    heatmaps are logged into the active MLflow run, and the validation and test probabilities."""
    import mlflow

    predict, keras_model = load_predictor(trained, prepared)
    start = time.perf_counter()
    probabilities = predict("test")
    inference_seconds = time.perf_counter() - start
    scores = log_evaluation(prepared, probabilities, trained.arch, keras_model)
    scores["inference_sentences_per_second"] = prepared.rows["test"] / inference_seconds
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(PROBABILITIES_ARTIFACT).name
        np.savez_compressed(path, valid=predict("valid").astype(np.float32), test=probabilities.astype(np.float32))
        mlflow.log_artifact(str(path), str(Path(PROBABILITIES_ARTIFACT).parent))
    return scores


def log_evaluation(prepared: ClassificationFeatures, probabilities: np.ndarray, title: str,
                   keras_model=None) -> dict[str, float]:
    """Test metrics of ``probabilities`` (test rows x classes), and into the active MLflow run the
    test predictions the promotion gate compares, the confusion matrix, per-class report,
    misclassified texts, and attention heatmaps for a Keras attention model."""
    import mlflow

    spec = TextSpec.read(prepared.path(TEXT_SPEC_FILE))
    with np.load(prepared.path(FEATURES_FILE)) as arrays:
        y_test = arrays["y_test"]
    scores = metric_fns.classification_metrics(y_test, probabilities.argmax(axis=1), probabilities.shape[1])
    label_names = spec.label_names
    # What the promotion gate compares, per test row (pipeline.stages.register).
    mlflow.log_dict({"test_digest": prepared.test_digest,
                     "predictions": [label_names[i] for i in probabilities.argmax(axis=1)]},
                    predictions_artifact(prepared.test_digest))
    if probabilities.shape[1] > 3:
        scores["top_3_accuracy"] = metric_fns.top_k_accuracy(y_test, probabilities, 3)
    matrix = metric_fns.confusion(y_test, probabilities)
    texts = split_texts(prepared.features_dir, "test")
    figure = metric_fns.confusion_matrix_figure(matrix, label_names, f"{title}: test confusion matrix")
    mlflow.log_figure(figure, "evaluation/confusion_matrix.png")
    mlflow.log_dict({"labels": label_names, "matrix": matrix.tolist()}, "evaluation/confusion_matrix.json")
    mlflow.log_table(metric_fns.misclassified_table(texts, y_test, probabilities, label_names),
                     "evaluation/misclassified.json")
    mlflow.log_table(metric_fns.per_class_report(y_test, probabilities.argmax(axis=1), label_names),
                     "evaluation/per_class_report.json")
    if keras_model is not None and has_attention(keras_model):
        examples = attention_examples(keras_model, prepared, spec, y_test)
        mlflow.log_dict(examples, "evaluation/attention_examples.json")
        mlflow.log_figure(attention_heatmap(examples, f"{title}: attention over test sentences"),
                          "evaluation/attention_heatmap.png")
    return scores


def attention_examples(model, prepared: ClassificationFeatures, spec: TextSpec, y_test: np.ndarray,
                       count: int = ATTENTION_EXAMPLES) -> list[dict]:
    """Attention over a fixed set of test sentences: evenly spaced over the test split among those
    of readable length, so every model of a run (and every run on this split) shows the same ones."""
    from models.text_classifier import attention_inspector, class_probabilities
    from pipeline.kinds.classification.attention import token_attention
    from pipeline.text.vocab import Vocabulary

    token_lists = [joined.split() for joined in split_tokens(prepared.features_dir, "test")]
    readable = [row for row, tokens in enumerate(token_lists) if 4 <= len(tokens) <= ATTENTION_MAX_TOKENS]
    candidates = readable or list(range(len(token_lists)))
    rows = [candidates[i] for i in np.unique(np.linspace(0, len(candidates) - 1, count).round().astype(int))]
    vocab = Vocabulary.from_dict(read_json(prepared.path(VOCAB_FILE)))
    outputs, attention = token_attention(attention_inspector(model), vocab, [token_lists[r] for r in rows],
                                         prepared.max_len, spec.source.config.truncate_from,
                                         pieces=bool(spec.source.config.subword_vocab_size))
    probabilities = class_probabilities(outputs)
    names = spec.label_names
    examples = []
    for row, pairs, probs in zip(rows, attention, probabilities):
        predicted = int(probs.argmax())
        examples.append({
            "test_row": row, "tokens": [token for token, _ in pairs], "weights": [w for _, w in pairs],
            "true": names[int(y_test[row])], "predicted": names[predicted],
            "caption": f"test row {row}: true {names[int(y_test[row])]}, predicted {names[predicted]} "
                       f"({probs[predicted]:.2f})",
        })
    return examples


def load_predictor(trained: TrainResult, prepared: ClassificationFeatures):
    """(function from a split's name to its (rows, classes) probabilities, the Keras model or None)."""
    if trained.flavor == "sklearn":
        import mlflow.sklearn

        baseline = mlflow.sklearn.load_model(trained.model_uri)
        return (lambda split: baseline.predict_proba(split_tokens(prepared.features_dir, split))), None
    import mlflow

    from models.saving import load_keras_model
    from models.text_classifier import LengthBuckets, class_probabilities

    model = load_keras_model(mlflow.artifacts.download_artifacts(trained.model_uri))
    forward = LengthBuckets(model)

    def predict(split: str) -> np.ndarray:
        with np.load(prepared.path(FEATURES_FILE)) as arrays:
            padded = arrays[f"x_{split}"]
        return class_probabilities(forward([row[row != 0] for row in padded]))

    return predict, model


def test_predictions(model_uri: str, prepared: ClassificationFeatures) -> list[str]:
    """A registered raw-text model's label names for this run's test texts, through its own pyfunc."""
    import mlflow

    predictions = mlflow.pyfunc.load_model(model_uri).predict(split_texts(prepared.features_dir, "test"))
    return [str(label) for label in predictions["label"]]


def compare_predictions(candidate: list[str], champion: list[str], prepared: ClassificationFeatures, metric: str,
                        seed: int = 0):
    """Candidate against champion on this run's test labels. Predictions are matched by label
    *name*: a champion trained on another label set (R8 against R52, say) has other label ids, and
    a topic it never learned counts as wrong."""
    from pipeline.kinds.classification.promotion import compare_classifiers

    with np.load(prepared.path(FEATURES_FILE)) as arrays:
        y_test = arrays["y_test"]
    index = {name: i for i, name in enumerate(TextSpec.read(prepared.path(TEXT_SPEC_FILE)).label_names)}
    for name, predictions in (("candidate", candidate), ("champion", champion)):
        if len(predictions) != len(y_test):
            raise ValueError(f"{name}: {len(predictions)} predictions for {len(y_test)} test rows")
    ids = [np.array([index.get(label, -1) for label in predictions], dtype=np.int64)
           for predictions in (candidate, champion)]
    return compare_classifiers(y_test, ids[0], ids[1], metric, prepared.num_classes, seed=seed)
