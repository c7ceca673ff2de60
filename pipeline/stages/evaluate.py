"""Evaluate stage: every model on the same test split, logged into its training run.

A model whose run already holds its test metrics (the task was retried or cleared) is not
evaluated again.
"""

from __future__ import annotations

import logging

from pipeline.config import PipelineConfig
from pipeline.kinds import kind_of
from pipeline.names import TEST_METRIC_PREFIX
from pipeline.results import (
    EvalResult,
    PreparedFeatures,
    TrainResult,
    logged_test_scores,
)
from pipeline.tracking.store import configure

log = logging.getLogger(__name__)


def run_evaluate(config: PipelineConfig, prepared: PreparedFeatures, trained: TrainResult) -> EvalResult:
    import mlflow

    client = configure(config)
    logged = client.get_run(trained.run_id).data.metrics
    if f"{TEST_METRIC_PREFIX}{config.registry.metric}" in logged:
        log.info("%s already evaluated in run %s", trained.arch, trained.run_id)
        scores = logged_test_scores(logged)
    else:
        with mlflow.start_run(run_id=trained.run_id):
            scores = kind_of(config).evaluate(config, prepared, trained)
            mlflow.log_metrics({f"{TEST_METRIC_PREFIX}{name}": value for name, value in scores.items()})
        log.info("%s test metrics: %s", trained.arch, scores)
    return EvalResult(trained.run_id, trained.arch, trained.flavor, trained.model_uri, scores)
