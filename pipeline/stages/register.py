"""Register stage: the best model of a run becomes a raw-text pyfunc version; aliases gate it.

Aliases only (``champion``, ``challenger``), never stages. A version is promoted to
``@champion`` when there is none or it beats the champion's test metric; otherwise it becomes
``@challenger``. The decision is recorded on the version and in the parent run.
"""

from __future__ import annotations

import logging
import tempfile
from functools import partial
from typing import Callable

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipeline.config import PipelineConfig
from pipeline.kinds import kind_of
from pipeline.lineage import Lineage
from pipeline.names import (
    ARCH_TAG,
    CHALLENGER,
    CHAMPION,
    DECISION_TAG,
    REASON_TAG,
    RUN_KEY_TAG,
    TEST_DIGEST_TAG,
    TRAINING_RUN_TAG,
    metric_tag,
)
from pipeline.paths import PROJECT_ROOT
from pipeline.results import EvalResult, PreparedFeatures, RegisterResult
from pipeline.serving import TEXT_COLUMN, pinned_requirements
from pipeline.tracking import configure

log = logging.getLogger(__name__)

PYFUNC_NAME = "raw_text_model"


def select_best(evaluations: list[EvalResult], metric: str) -> EvalResult:
    if not evaluations:
        raise ValueError("no evaluated models to choose from")
    return max(evaluations, key=lambda result: result.metrics[metric])


def decide_promotion(candidate_score: float, champion_score: float | None, min_improvement: float,
                     metric: str) -> tuple[str, str]:
    """(alias, reason): pure, so the gate is tested without a registry."""
    if champion_score is None:
        return CHAMPION, f"no champion with a recorded test {metric}"
    if candidate_score > champion_score + min_improvement:
        return CHAMPION, f"test {metric} {candidate_score:.4f} beats champion's {champion_score:.4f}"
    return CHALLENGER, f"test {metric} {candidate_score:.4f} does not beat champion's {champion_score:.4f}"


def run_register(config: PipelineConfig, prepared: PreparedFeatures, evaluations: list[EvalResult],
                 lineage: Lineage, extra_tags: dict[str, str] | None = None) -> RegisterResult:
    """Register the best model (``extra_tags``, e.g. the data validation outcome, go on the version)
    and decide its alias."""
    client = configure(config)
    name, metric = config.registry.model_name, config.registry.metric
    best = select_best(evaluations, metric)
    run_key = lineage.run_key
    existing = client.search_model_versions(f"name = '{name}' and tags.`{RUN_KEY_TAG}` = '{run_key}'")
    if existing:
        version = existing[0]
        log.info("DAG run %s already registered %s version %s", run_key, name, version.version)
    else:
        version = _register(client, config, prepared, best, lineage, run_key, extra_tags or {})
    if DECISION_TAG in version.tags:
        alias, reason = version.tags[DECISION_TAG], version.tags[REASON_TAG]
    else:
        alias, reason = promote(client, name, version.version, best.metrics[metric], metric,
                                config.registry.min_improvement, lineage.test_digest,
                                rescore=partial(kind_of(config).score_for_promotion, prepared=prepared,
                                                metric=metric))
    return RegisterResult(name, str(version.version), alias, reason, best.arch, best.run_id, best.metrics)


def _register(client: MlflowClient, config: PipelineConfig, prepared: PreparedFeatures, best: EvalResult,
              lineage: Lineage, run_key: str, extra_tags: dict[str, str]):
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        model_path = mlflow.artifacts.download_artifacts(best.model_uri, dst_path=tmp)
        parts = kind_of(config).serving_parts(config, prepared, best, model_path)
        with mlflow.start_run(run_id=best.run_id):
            info = mlflow.pyfunc.log_model(
                name=PYFUNC_NAME,
                python_model=parts.python_model,
                artifacts=parts.artifacts,
                code_paths=[str(PROJECT_ROOT / "pipeline"), str(PROJECT_ROOT / "models")],
                signature=parts.signature,
                input_example=pd.DataFrame({TEXT_COLUMN: parts.example_inputs[:2]}),
                pip_requirements=pinned_requirements(),
            )
    tags = {**extra_tags, **lineage.tags(), RUN_KEY_TAG: run_key, ARCH_TAG: best.arch, TRAINING_RUN_TAG: best.run_id,
            **{metric_tag(key): f"{value:.6f}" for key, value in best.metrics.items()}}
    version = mlflow.register_model(info.model_uri, config.registry.model_name, tags=tags)
    return client.get_model_version(config.registry.model_name, version.version)


def champion_score(client: MlflowClient, name: str, metric: str, test_digest: str,
                   rescore: Callable[[str], float]) -> tuple[str | None, float | None, str]:
    """(champion version, its score on this run's test split, how that score was obtained).

    Scores are only comparable on the same test split: the champion's recorded metric is used
    when its test digest matches; otherwise the champion is re-scored on this run's test split.
    """
    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None, None, "no champion"
    version = str(champion.version)
    recorded = champion.tags.get(metric_tag(metric))
    if recorded is not None and test_digest and champion.tags.get(TEST_DIGEST_TAG) == test_digest:
        return version, float(recorded), "recorded on the same test split"
    try:
        return version, rescore(f"models:/{name}/{version}"), "re-scored on this run's test split"
    except Exception as exc:  # a champion that cannot be loaded or scored must not block every future run
        log.error("champion %s version %s could not be scored: %s", name, version, exc)
        return version, None, f"champion could not be scored ({type(exc).__name__}: {exc})"


def promote(client: MlflowClient, name: str, version: str, score: float, metric: str,
            min_improvement: float, test_digest: str, rescore: Callable[[str], float]) -> tuple[str, str]:
    champion_version, champion_metric, how = champion_score(client, name, metric, test_digest, rescore)
    if champion_version == str(version):
        alias, reason = CHAMPION, "already champion"
    else:
        alias, reason = decide_promotion(score, champion_metric, min_improvement, metric)
        if champion_version is not None:
            reason += f" (champion version {champion_version}: {how})"
    client.set_registered_model_alias(name, alias, str(version))
    client.set_model_version_tag(name, str(version), DECISION_TAG, alias)
    client.set_model_version_tag(name, str(version), REASON_TAG, reason)
    log.info("%s version %s -> @%s: %s", name, version, alias, reason)
    return alias, reason
