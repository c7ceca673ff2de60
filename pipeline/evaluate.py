"""Evaluate stage: every model on the same test split, logged into its training run."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline import metrics as metric_fns
from pipeline.config import PipelineConfig
from pipeline.io import read_json
from pipeline.plots import attention_heatmap
from pipeline.preprocess import FEATURES_FILE, TEXT_SPEC_FILE, PreprocessResult, split_texts
from pipeline.tracking import configure
from pipeline.train import TrainResult

log = logging.getLogger(__name__)

TEST_PREFIX = "test_"
# Attention heatmaps: how many test sentences, and the longest that still reads as one strip.
ATTENTION_EXAMPLES = 8
ATTENTION_MAX_TOKENS = 24


@dataclass(frozen=True)
class EvalResult:
    run_id: str
    arch: str
    flavor: str
    model_uri: str
    metrics: dict[str, float]

    def to_xcom(self) -> dict:
        return asdict(self)


def run_evaluate(config: PipelineConfig, prepared: PreprocessResult, trained: TrainResult) -> EvalResult:
    client = configure(config)
    logged = client.get_run(trained.run_id).data.metrics
    if f"{TEST_PREFIX}{config.registry.metric}" in logged:
        log.info("%s already evaluated in run %s", trained.arch, trained.run_id)
        return EvalResult(trained.run_id, trained.arch, trained.flavor, trained.model_uri, _test_metrics(logged))

    import mlflow

    if config.task == "translation":
        return _evaluate_translator(config, prepared, trained)
    spec = read_json(Path(prepared.features_dir) / TEXT_SPEC_FILE)
    with np.load(Path(prepared.features_dir) / FEATURES_FILE) as arrays:
        x_test, y_test = arrays["x_test"], arrays["y_test"]
    predict, keras_model = load_predictor(trained, prepared)
    start = time.perf_counter()
    probabilities = predict(x_test)
    inference_seconds = time.perf_counter() - start

    scores = metric_fns.classification_metrics(y_test, probabilities.argmax(axis=1), probabilities.shape[1])
    scores["inference_sentences_per_second"] = len(x_test) / inference_seconds
    if probabilities.shape[1] > 3:
        scores["top_3_accuracy"] = metric_fns.top_k_accuracy(y_test, probabilities, 3)
    matrix = metric_fns.confusion(y_test, probabilities)
    texts = split_texts(prepared.features_dir, "test")
    label_names = spec["label_names"]
    with mlflow.start_run(run_id=trained.run_id):
        mlflow.log_metrics({f"{TEST_PREFIX}{name}": value for name, value in scores.items()})
        figure = metric_fns.confusion_matrix_figure(matrix, label_names, f"{trained.arch}: test confusion matrix")
        mlflow.log_figure(figure, "evaluation/confusion_matrix.png")
        mlflow.log_dict({"labels": label_names, "matrix": matrix.tolist()}, "evaluation/confusion_matrix.json")
        mlflow.log_table(metric_fns.misclassified_table(texts, y_test, probabilities, label_names),
                         "evaluation/misclassified.json")
        mlflow.log_table(metric_fns.per_class_report(y_test, probabilities.argmax(axis=1), label_names),
                         "evaluation/per_class_report.json")
        if keras_model is not None and _has_attention(keras_model):
            examples = attention_examples(keras_model, prepared, spec, y_test)
            mlflow.log_dict(examples, "evaluation/attention_examples.json")
            mlflow.log_figure(attention_heatmap(examples, f"{trained.arch}: attention over test sentences"),
                              "evaluation/attention_heatmap.png")
    log.info("%s test metrics: %s", trained.arch, scores)
    return EvalResult(trained.run_id, trained.arch, trained.flavor, trained.model_uri, scores)


def attention_examples(model, prepared: PreprocessResult, spec: dict, y_test: np.ndarray,
                       count: int = ATTENTION_EXAMPLES) -> list[dict]:
    """Attention over a fixed set of test sentences: evenly spaced over the test split among those
    of readable length, so every model of a run (and every run on this split) shows the same ones."""
    from models.classifiers import attention_inspector, class_probabilities
    from pipeline.preprocess import VOCAB_FILE, split_tokens
    from pipeline.serving import token_attention
    from pipeline.text.vocab import Vocabulary

    token_lists = [joined.split() for joined in split_tokens(prepared.features_dir, "test")]
    readable = [row for row, tokens in enumerate(token_lists) if 4 <= len(tokens) <= ATTENTION_MAX_TOKENS]
    candidates = readable or list(range(len(token_lists)))
    rows = [candidates[i] for i in np.unique(np.linspace(0, len(candidates) - 1, count).round().astype(int))]
    vocab = Vocabulary.from_dict(read_json(Path(prepared.features_dir) / VOCAB_FILE))
    outputs, attention = token_attention(attention_inspector(model), vocab, [token_lists[r] for r in rows],
                                         prepared.max_len, spec["text_config"]["truncate_from"])
    probabilities = class_probabilities(outputs)
    names = spec["label_names"]
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


def load_predictor(trained: TrainResult, prepared: PreprocessResult):
    """(function from the test id matrix to (rows, classes) probabilities, the Keras model or None)."""
    if trained.flavor == "sklearn":
        import mlflow.sklearn

        from pipeline.preprocess import split_tokens

        baseline = mlflow.sklearn.load_model(trained.model_uri)
        test_tokens = split_tokens(prepared.features_dir, "test")
        return (lambda x_test: baseline.predict_proba(test_tokens)), None
    import mlflow

    from models.classifiers import class_probabilities
    from models.saving import load_keras_model

    model = load_keras_model(mlflow.artifacts.download_artifacts(trained.model_uri))
    return (lambda x_test: class_probabilities(model.predict(x_test, batch_size=1024, verbose=0))), model


def _evaluate_translator(config: PipelineConfig, prepared, trained: TrainResult) -> EvalResult:
    import mlflow

    from models.saving import load_keras_model
    from pipeline.translation import evaluate_translator

    model = load_keras_model(mlflow.artifacts.download_artifacts(trained.model_uri))
    with mlflow.start_run(run_id=trained.run_id):
        scores = evaluate_translator(config, prepared, model, trained.arch)
    log.info("%s test scores: %s", trained.arch, scores)
    return EvalResult(trained.run_id, trained.arch, trained.flavor, trained.model_uri, scores)


def _has_attention(model) -> bool:
    from models.classifiers import has_attention

    return has_attention(model)


def _test_metrics(logged: dict[str, float]) -> dict[str, float]:
    return {name[len(TEST_PREFIX):]: value for name, value in logged.items() if name.startswith(TEST_PREFIX)}
