"""Register stage: the best model of a run becomes a raw-text pyfunc version; aliases gate it.

Aliases only (``champion``, ``challenger``), never stages. A version is promoted to
``@champion`` when there is none, or when a paired test on the same test split says it is
significantly better (``pipeline.registry.significance``); otherwise it becomes ``@challenger``. The
decision record (both scores, difference, interval, p-value, test, test digest) is tagged on the
version and written to its training run as ``promotion/decision.json``.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipeline.config import PipelineConfig
from pipeline.errors import BadValue, NotFound
from pipeline.kinds import kind_of
from pipeline.names import (
    ARCH_TAG,
    CHALLENGER,
    CHAMPION,
    DECISION_TAG,
    PREVIOUS_CHAMPION_TAG,
    REASON_TAG,
    RUN_KEY_TAG,
    TRAINING_RUN_TAG,
    metric_tag,
)
from pipeline.paths import PROJECT_ROOT
from pipeline.registry.locks import registry_lock
from pipeline.registry.significance import Comparison, decide
from pipeline.results import (
    TEXT_SPEC_FILE,
    EvalResult,
    PreparedFeatures,
    RegisterResult,
)
from pipeline.serving.inputs import pinned_requirements
from pipeline.text.spec import TextSpec
from pipeline.tracking.descriptions import (
    registered_model_description,
    run_link,
    version_description,
)
from pipeline.tracking.lineage import Lineage
from pipeline.tracking.store import (
    configure,
    recorded_test_predictions,
    training_run_of,
)

log = logging.getLogger(__name__)

PYFUNC_NAME = "raw_text_model"


def select_best(evaluations: list[EvalResult], metric: str) -> EvalResult:
    if not evaluations:
        raise ValueError("no evaluated models to choose from")
    return max(evaluations, key=lambda result: result.metrics[metric])


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
        kind = kind_of(config)
        gate = Gate(metric, config.registry.alpha, config.registry.min_improvement, lineage.test_digest,
                    predictions_of=partial(kind.test_predictions, prepared=prepared),
                    compare=partial(kind.compare, prepared=prepared, metric=metric, seed=config.train.seed))
        alias, reason = promote(client, name, str(version.version), gate)
    return RegisterResult(name, str(version.version), alias, reason, best.arch, best.run_id, best.metrics)


def _register(client: MlflowClient, config: PipelineConfig, prepared: PreparedFeatures, best: EvalResult,
              lineage: Lineage, run_key: str, extra_tags: dict[str, str]):
    with tempfile.TemporaryDirectory() as tmp:
        model_path = mlflow.artifacts.download_artifacts(best.model_uri, dst_path=tmp)
        parts = kind_of(config).serving_parts(config, prepared, best, model_path)
        with mlflow.start_run(run_id=best.run_id):
            info = mlflow.pyfunc.log_model(
                name=PYFUNC_NAME,
                python_model=parts.python_model,
                artifacts=parts.artifacts,
                code_paths=[str(PROJECT_ROOT / "pipeline"), str(PROJECT_ROOT / "models")],
                pip_requirements=pinned_requirements(),
                **parts.typed_example(),
            )
    tags = {**extra_tags, **lineage.tags(), RUN_KEY_TAG: run_key, ARCH_TAG: best.arch, TRAINING_RUN_TAG: best.run_id,
            **{metric_tag(key): f"{value:.6f}" for key, value in best.metrics.items()}}
    name = config.registry.model_name
    version = mlflow.register_model(info.model_uri, name, tags=tags)
    label_names = TextSpec.read(prepared.path(TEXT_SPEC_FILE)).label_names
    _describe_model(client, name, registered_model_description(config, label_names, parts.output_columns))
    training = run_link(client.get_run(best.run_id).info.experiment_id, best.run_id, f"run `{best.run_id[:8]}`")
    client.update_model_version(name, version.version, description=version_description(
        best.arch, best.metrics, lineage, training, extra_tags))
    return client.get_model_version(name, version.version)


def _describe_model(client: MlflowClient, name: str, description: str) -> None:
    """The registered model's description, kept current with the config unless a person wrote their own."""
    current = client.get_registered_model(name).description or ""
    if not current or current.startswith(f"**{name}**"):
        client.update_registered_model(name, description=description)


@dataclass(frozen=True)
class Gate:
    """What the promotion decision needs: the metric and its limits, this run's test split, how to
    get a registered model's predictions on it, and the kind's paired test."""

    metric: str
    alpha: float
    min_improvement: float
    test_digest: str
    predictions_of: Callable[[str], list[str]]
    compare: Callable[[list[str], list[str]], Comparison]


def version_predictions(client: MlflowClient, name: str, version: str, gate: Gate) -> list[str]:
    return recorded_test_predictions(client, name, version, gate.test_digest, gate.predictions_of)


def promote(client: MlflowClient, name: str, version: str, gate: Gate) -> tuple[str, str]:
    """Decide the candidate's alias against the current champion; record the decision on the
    version (tags, description, ``promotion/decision.json`` on its training run)."""
    with registry_lock(mlflow.get_registry_uri(), name):
        return _promote(client, name, version, gate)


def _promote(client: MlflowClient, name: str, version: str, gate: Gate) -> tuple[str, str]:
    try:
        champion = str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        champion = None
    record: dict = {"candidate_version": version, "champion_version": champion, "metric": gate.metric,
                    "alpha": gate.alpha, "min_improvement": gate.min_improvement, "test_digest": gate.test_digest}
    if champion == version:
        alias, reason = CHAMPION, "already champion"
    elif champion is None:
        alias, reason = CHAMPION, "no champion yet"
    else:
        try:
            comparison = gate.compare(version_predictions(client, name, version, gate),
                                      version_predictions(client, name, champion, gate))
        except Exception as exc:  # a champion that cannot be loaded or scored must not block every future run
            log.error("champion %s version %s could not be compared: %s", name, champion, exc)
            alias, reason = CHAMPION, f"champion version {champion} could not be scored ({type(exc).__name__}: {exc})"
        else:
            promoted, why = decide(comparison, gate.alpha, gate.min_improvement)
            alias, reason = (CHAMPION if promoted else CHALLENGER), f"{why} (champion version {champion})"
            record.update(comparison.to_dict())
            for key, value in (("p_value", comparison.p_value), ("difference", comparison.difference),
                               ("test", comparison.test)):
                client.set_model_version_tag(name, version, f"{DECISION_TAG}.{key}", str(value))
    record.update({"decision": alias, "reason": reason})
    if champion is not None and alias == CHAMPION and champion != version:
        client.set_model_version_tag(name, version, PREVIOUS_CHAMPION_TAG, champion)
        _history(client, name, champion, f"replaced as `@champion` by version {version}: {reason}")
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, DECISION_TAG, alias)
    client.set_model_version_tag(name, version, REASON_TAG, reason[:4000])
    if alias != CHAMPION or champion != version:
        _history(client, name, version, f"`@{alias}`: {reason}")
    run_id = training_run_of(client, name, version)
    if run_id:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "decision.json"
            path.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
            client.log_artifact(run_id, str(path), "promotion")
    log.info("%s version %s -> @%s: %s", name, version, alias, reason)
    return alias, reason


def _history(client: MlflowClient, name: str, version: str, line: str) -> None:
    """Append a dated line to the version's description: the registry page shows its own history."""
    current = client.get_model_version(name, version).description or ""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    client.update_model_version(name, version, description=f"{current.rstrip()}\n\n- {stamp}: {line}".lstrip())


def promote_by_hand(client: MlflowClient, name: str, version: str, reason: str, who: str,
                    action: str = "promoted by hand", remember_previous: bool = True) -> str | None:
    """Move ``@champion`` to ``version`` without the gate; record who, what and why on it.
    Returns the version that was champion before (None if there was none)."""
    with registry_lock(mlflow.get_registry_uri(), name):
        return _promote_by_hand(client, name, version, reason, who, action, remember_previous)


def _promote_by_hand(client: MlflowClient, name: str, version: str, reason: str, who: str, action: str,
                     remember_previous: bool) -> str | None:
    if not reason.strip():
        raise BadValue("a manual promotion needs a reason (--reason TEXT)")
    try:
        client.get_model_version(name, version)
    except MlflowException:
        known = [str(v.version) for v in client.search_model_versions(f"name = '{name}'")]
        raise NotFound(f"{name} has no version {version} (versions: {sorted(known, key=int)})") from None
    try:
        previous = str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        previous = None
    if previous == str(version):
        raise BadValue(f"{name} version {version} is already @champion")
    record = f"{action} by {who}: {reason}" + (f" (replacing version {previous})" if previous else "")
    client.set_registered_model_alias(name, CHAMPION, str(version))
    client.set_model_version_tag(name, str(version), DECISION_TAG, CHAMPION)
    client.set_model_version_tag(name, str(version), REASON_TAG, record[:4000])
    if previous and remember_previous:
        client.set_model_version_tag(name, str(version), PREVIOUS_CHAMPION_TAG, previous)
    if previous:
        _history(client, name, previous, f"replaced as `@champion` by version {version} ({action} by {who}: {reason})")
    _history(client, name, str(version), f"`@champion`: {record}")
    log.info("%s version %s -> @champion: %s", name, version, record)
    return previous


def rollback(client: MlflowClient, name: str, reason: str, who: str) -> tuple[str, str]:
    """Give ``@champion`` back to the version the current champion replaced. Returns (from, to)."""
    with registry_lock(mlflow.get_registry_uri(), name):
        return _rollback(client, name, reason, who)


def _rollback(client: MlflowClient, name: str, reason: str, who: str) -> tuple[str, str]:
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        raise NotFound(f"{name} has no @champion to roll back") from None
    previous = current.tags.get(PREVIOUS_CHAMPION_TAG)
    if not previous:
        raise NotFound(f"{name} version {current.version} records no previous champion "
                          f"({PREVIOUS_CHAMPION_TAG}); promote a version by hand instead")
    # The restored version keeps its own previous champion: a second rollback goes further back.
    _promote_by_hand(client, name, previous, reason or f"rollback from version {current.version}", who,
                     action=f"rolled back from version {current.version}", remember_previous=False)
    return str(current.version), previous
