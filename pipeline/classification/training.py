"""Fitting classifiers: Keras models on padded token ids, scikit-learn baselines on the tokens."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.classification.features import ClassificationFeatures, split_tokens
from pipeline.config import PipelineConfig
from pipeline.fitting import SKLEARN_MODEL_ARTIFACT, device_scope, fit_and_log, make_datasets
from pipeline.lineage import Lineage
from pipeline.results import FEATURES_FILE, FitStats


def fit_keras(config: PipelineConfig, prepared: ClassificationFeatures, arch: str, lineage: Lineage) -> FitStats:
    """A Keras classifier on the prepared token ids."""
    import keras

    from models.registry import build_classifier
    from models.text_classifier import loss_for

    keras.utils.set_random_seed(config.train.seed)
    with np.load(prepared.path(FEATURES_FILE)) as arrays:
        splits = {split: ((arrays[f"x_{split}"],), arrays[f"y_{split}"]) for split in ("train", "valid")}
    train_data, valid_data = make_datasets(splits, config.train.batch_size, config.train.seed)
    with device_scope(config):
        model = build_classifier(arch, config.model, prepared.vocab_size, prepared.num_classes)
        model.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate),
                      loss=loss_for(prepared.num_classes), metrics=["accuracy"])
    return fit_and_log(config, model, train_data, valid_data, arch, lineage)


def fit_baseline(config: PipelineConfig, prepared: ClassificationFeatures, arch: str, lineage: Lineage) -> FitStats:
    """A scikit-learn baseline on the train split's tokens, logged in MLflow's sklearn flavor."""
    import mlflow
    import mlflow.sklearn

    from models.registry import build_baseline

    with np.load(prepared.path(FEATURES_FILE)) as arrays:
        y_train = arrays["y_train"]
    baseline = build_baseline(arch, config.model, prepared.num_classes)
    start = time.perf_counter()
    baseline.fit(split_tokens(prepared.features_dir, "train"), y_train)
    train_seconds = time.perf_counter() - start
    classifier = baseline.named_steps["classifier"]
    weights = getattr(classifier, "coef_", None)
    param_count = int(weights.size if weights is not None else classifier.feature_log_prob_.size)
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.sklearn.save_model(baseline, Path(tmp) / "model", serialization_format="cloudpickle")
        mlflow.log_artifacts(str(Path(tmp) / "model"), artifact_path=SKLEARN_MODEL_ARTIFACT)
    return FitStats(train_seconds, 1, param_count)
