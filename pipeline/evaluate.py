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
from pipeline.preprocess import FEATURES_FILE, TEXT_SPEC_FILE, PreprocessResult, split_texts
from pipeline.tracking import configure
from pipeline.train import TrainResult

log = logging.getLogger(__name__)

TEST_PREFIX = "test_"


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
    if f"{TEST_PREFIX}accuracy" in logged:
        log.info("%s already evaluated in run %s", trained.arch, trained.run_id)
        return EvalResult(trained.run_id, trained.arch, trained.flavor, trained.model_uri, _test_metrics(logged))

    import mlflow

    spec = read_json(Path(prepared.features_dir) / TEXT_SPEC_FILE)
    with np.load(Path(prepared.features_dir) / FEATURES_FILE) as arrays:
        x_test, y_test = arrays["x_test"], arrays["y_test"]
    predict = load_predictor(trained, prepared)
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
    log.info("%s test metrics: %s", trained.arch, scores)
    return EvalResult(trained.run_id, trained.arch, trained.flavor, trained.model_uri, scores)


def load_predictor(trained: TrainResult, prepared: PreprocessResult):
    """A function from the test id matrix to (rows, classes) probabilities, for either flavor."""
    if trained.flavor == "sklearn":
        import mlflow.sklearn

        from pipeline.preprocess import split_tokens

        baseline = mlflow.sklearn.load_model(trained.model_uri)
        test_tokens = split_tokens(prepared.features_dir, "test")
        return lambda x_test: baseline.predict_proba(test_tokens)
    import keras
    import mlflow

    from models.classifiers import class_probabilities

    model = keras.saving.load_model(mlflow.artifacts.download_artifacts(trained.model_uri))
    return lambda x_test: class_probabilities(model.predict(x_test, batch_size=1024, verbose=0))


def _test_metrics(logged: dict[str, float]) -> dict[str, float]:
    return {name[len(TEST_PREFIX):]: value for name, value in logged.items() if name.startswith(TEST_PREFIX)}
