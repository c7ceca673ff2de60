"""Train stage: one architecture on the prepared features, tracked in its own MLflow child run.

A retried or cleared task finds its finished child run and reuses it instead of training again.
"""

from __future__ import annotations

import logging

from pipeline.config import PipelineConfig
from pipeline.kinds import kind_of
from pipeline.names import TRIAL_TAG
from pipeline.results import PreparedFeatures, TrainResult
from pipeline.tracking.lineage import Lineage
from pipeline.tracking.store import child_run, configure, log_params_once
from pipeline.training.fitting import MODEL_ARTIFACTS

log = logging.getLogger(__name__)


def run_train(config: PipelineConfig, prepared: PreparedFeatures, arch: str, parent_run_id: str,
              lineage: Lineage, best_trial: int | None = None) -> TrainResult:
    """``best_trial``: the search trial whose values ``config`` carries, recorded on the run."""
    import mlflow

    kind = kind_of(config)
    client = configure(config)
    flavor = kind.model_flavor(arch)
    run_id, finished = child_run(client, config, parent_run_id, arch, lineage)
    model_uri = f"runs:/{run_id}/{MODEL_ARTIFACTS[flavor]}"
    if finished:
        log.info("%s already trained in MLflow run %s; reusing it", arch, run_id)
        metrics = client.get_run(run_id).data.metrics
        return TrainResult(run_id, arch, flavor, model_uri, metrics["train_seconds"], int(metrics["epochs_run"]),
                           int(metrics["param_count"]))
    with mlflow.start_run(run_id=run_id):
        log_params_once(client, run_id, {**config.flat_params(), "arch": arch, "flavor": flavor, **prepared.sizes()})
        if best_trial is not None:
            mlflow.set_tag(TRIAL_TAG, str(best_trial))
        stats = kind.fit(config, prepared, arch, lineage)
        mlflow.log_metrics({"train_seconds": stats.train_seconds, "epochs_run": stats.epochs_run,
                            "param_count": stats.param_count})
    return TrainResult(run_id, arch, flavor, model_uri, round(stats.train_seconds, 2), stats.epochs_run,
                       stats.param_count)
