"""Fitting classifiers: Keras models on padded token ids, scikit-learn baselines on the tokens."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.config import PipelineConfig
from pipeline.kinds.classification.features import ClassificationFeatures, split_tokens
from pipeline.results import FEATURES_FILE, FitStats
from pipeline.tracking.lineage import Lineage
from pipeline.training.fitting import (
    JIT_COMPILE,
    SKLEARN_MODEL_ARTIFACT,
    FitHooks,
    device_scope,
    fit_and_log,
    make_datasets,
)


def fit_keras(config: PipelineConfig, prepared: ClassificationFeatures, arch: str, lineage: Lineage,
              hooks: FitHooks | None = None) -> FitStats:
    """A Keras classifier on the prepared token ids."""
    import keras

    from models.registry import build_classifier
    from models.text_classifier import EMBEDDING_LAYER, loss_for
    from pipeline.kinds.classification.embeddings import initial_embedding

    keras.utils.set_random_seed(config.train.seed)
    with np.load(prepared.path(FEATURES_FILE)) as arrays:
        splits = {split: ((arrays[f"x_{split}"],), arrays[f"y_{split}"]) for split in ("train", "valid")}
    train_data, valid_data = make_datasets(splits, config.train.batch_size, config.train.seed)
    initial = initial_embedding(config, prepared.features_dir)
    with device_scope(config):
        model = build_classifier(arch, config.model, prepared.vocab_size, prepared.num_classes)
        if initial is not None:
            model.get_layer(EMBEDDING_LAYER).set_weights([initial.matrix])
        model.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate),
                      loss=loss_for(prepared.num_classes), metrics=["accuracy"], jit_compile=JIT_COMPILE)
    if initial is not None:
        log_initial_embedding(initial)
    return fit_and_log(config, model, train_data, valid_data, arch, lineage, hooks)


def log_initial_embedding(initial) -> None:
    import mlflow

    mlflow.log_metrics({"embedding_init_coverage": initial.coverage, "embedding_init_seconds": initial.seconds})
    mlflow.set_tag("embedding_init_source", initial.source)
    if initial.path is not None:
        mlflow.log_artifact(str(initial.path), "embedding_init")


def fit_baseline(config: PipelineConfig, prepared: ClassificationFeatures, arch: str, lineage: Lineage) -> FitStats:
    """A scikit-learn baseline on the train split's tokens, its n-gram length and regularization
    chosen on the validation split (``search_baseline``), logged in MLflow's sklearn flavor with
    the choice (params ``selected.*`` and ``baseline_search.json``, every candidate's score)."""
    import mlflow
    import mlflow.sklearn

    with np.load(prepared.path(FEATURES_FILE)) as arrays:
        y_train, y_valid = arrays["y_train"], arrays["y_valid"]
    start = time.perf_counter()
    train = split_tokens(prepared.features_dir, "train"), y_train
    valid = split_tokens(prepared.features_dir, "valid"), y_valid
    baseline, selected, candidates = search_baseline(arch, config.model, prepared.num_classes,
                                                     config.registry.metric, train, valid)
    train_seconds = time.perf_counter() - start
    mlflow.log_params({f"selected.{field}": value for field, value in selected.items()})
    mlflow.log_dict({"metric": f"valid_{config.registry.metric}", "selected": selected, "candidates": candidates},
                    "baseline_search.json")
    classifier = baseline.named_steps["classifier"]
    weights = getattr(classifier, "coef_", None)
    param_count = int(weights.size if weights is not None else classifier.feature_log_prob_.size)
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.sklearn.save_model(baseline, Path(tmp) / "model", serialization_format="cloudpickle")
        mlflow.log_artifacts(str(Path(tmp) / "model"), artifact_path=SKLEARN_MODEL_ARTIFACT)
    return FitStats(train_seconds, 1, param_count)


# The baseline search stops walking a regularization grid after this many values without a better
# validation score (search_baseline).
GRID_PATIENCE = 2


def search_baseline(arch: str, model_config, num_classes: int, metric: str, train: tuple, valid: tuple):
    """(fitted pipeline, its selected settings, every candidate's settings and validation score).

    Every n-gram length of the grid (plus the configured one) with the regularization values of the
    baseline's grid (plus the configured one), each fit on the train split and scored on the
    validation split; the best wins, the earlier of a tie (shorter n-grams, smaller value). The
    vectorizer is fit once per n-gram length. The values are walked in ascending order and the walk
    stops GRID_PATIENCE values past the n-gram length's best: the score rises to one peak and falls
    (too much, then too little regularization), so a wide grid costs little where the peak is early
    and still reaches it where it is late (R52's 52 topics: C 300).
    Without validation rows: the configured values. TF-IDF baselines are the bar a neural model has
    to clear, so they get the same fair chance.
    """
    from sklearn.pipeline import Pipeline

    from models.registry import baseline_regularization, build_baseline
    from pipeline.kinds.classification.metrics import classification_metrics

    field = baseline_regularization(arch)
    (x_train, y_train), (x_valid, y_valid) = train, valid
    ngrams, values = [model_config.baseline_max_ngram], [getattr(model_config, field)]
    if len(y_valid):
        ngrams = sorted({*ngrams, *model_config.baseline_max_ngram_grid})
        values = sorted({*values, *getattr(model_config, f"{field}_grid")})
    best, candidates = None, []
    for ngram in ngrams:
        vectorizer = build_baseline(arch, model_config.model_copy(update={"baseline_max_ngram": ngram}),
                                    num_classes).named_steps["tfidf"]
        features = vectorizer.fit_transform(x_train)
        valid_features = vectorizer.transform(x_valid) if len(y_valid) else None
        ngram_best, since_best = None, 0
        for value in values:
            if since_best >= GRID_PATIENCE:
                break
            settings = {"baseline_max_ngram": ngram, field: value}
            classifier = build_baseline(arch, model_config.model_copy(update=settings),
                                        num_classes).named_steps["classifier"]
            started = time.perf_counter()
            classifier.fit(features, y_train)
            score = (classification_metrics(y_valid, classifier.predict(valid_features), num_classes)[metric]
                     if valid_features is not None else None)
            candidates.append({**settings, f"valid_{metric}": score, "features": int(features.shape[1]),
                               "fit_seconds": round(time.perf_counter() - started, 3)})
            if best is None or (score is not None and score > best[0]):
                best = (score, settings, Pipeline([("tfidf", vectorizer), ("classifier", classifier)]))
            if score is not None:
                since_best = 0 if ngram_best is None or score > ngram_best else since_best + 1
                ngram_best = score if ngram_best is None else max(ngram_best, score)
    return best[2], best[1], candidates
