"""An ensemble of a run's classifiers: averaged class probabilities, neural and linear alike.

The members are chosen on the validation split (every subset of the run's models, best first by
the registry metric), scored on the test split every model shares, and logged as one more child
run (``ensemble``) that competes for registration like any model. Its ``ensemble.json`` names the
members' models; the served pyfunc loads them all behind one text processor.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
from pathlib import Path

import numpy as np

from pipeline.config import PipelineConfig
from pipeline.kinds.classification.evaluation import (
    PROBABILITIES_ARTIFACT,
    log_evaluation,
)
from pipeline.kinds.classification.features import ClassificationFeatures
from pipeline.kinds.classification.metrics import classification_metrics
from pipeline.names import ENSEMBLE, TEST_METRIC_PREFIX
from pipeline.results import FEATURES_FILE, EvalResult, logged_test_scores
from pipeline.tracking.lineage import Lineage

log = logging.getLogger(__name__)

ENSEMBLE_ARCH = ENSEMBLE_FLAVOR = ENSEMBLE
MEMBERS_ARTIFACT = "ensemble.json"
# Subsets are tried among this many of the run's models at most (the best on validation): 2^10 averages.
CANDIDATE_LIMIT = 10


def choose_members(valid: dict[str, np.ndarray], y_valid: np.ndarray, metric: str, num_classes: int,
                   max_members: int) -> tuple[list[str], float]:
    """(members, their validation score): the subset of at least two models, at most
    ``max_members``, whose averaged probabilities score best. A tie on the metric (frequent: accuracy
    moves in steps of one row) goes to the lower validation log loss of the averaged probabilities,
    then to the earlier subset (fewer members, then the order given). On NSMC seed 43 an LSTM +
    NB pair tied the three-model ensemble at 0.8845 validation accuracy; the pair was kept, 0.8788
    on test against the trio's 0.8819, whose validation log loss was lower (0.2757 against 0.2770)."""
    def averaged(names) -> np.ndarray:
        return np.mean([valid[name] for name in names], axis=0)

    def score(names) -> float:
        return classification_metrics(y_valid, averaged(names).argmax(axis=1), num_classes)[metric]

    def log_loss(names) -> float:
        rows = averaged(names)[np.arange(len(y_valid)), y_valid]
        return float(-np.log(np.clip(rows, 1e-12, 1.0)).mean())

    ranked = sorted(valid, key=lambda name: -score([name]))[:CANDIDATE_LIMIT]
    best, best_key = None, (-np.inf, -np.inf)
    for size in range(2, min(max_members, len(ranked)) + 1):
        for names in itertools.combinations(ranked, size):
            # Rounded: identical members give the same loss up to the last bit of a mean.
            key = (score(names), -round(log_loss(names), 9))
            if key > best_key:
                best, best_key = list(names), key
    return best, float(best_key[0])


def build_ensemble(config: PipelineConfig, prepared: ClassificationFeatures, evaluations: list[EvalResult],
                   parent_run_id: str, lineage: Lineage) -> EvalResult | None:
    """The ensemble's evaluation, logged in its own child run; None when the run has fewer than two
    models (or no validation rows), or ``train.ensemble_max_members`` is below 2. A rerun finds its
    finished run."""
    import mlflow

    from pipeline.tracking.store import child_run, configure

    members = [result for result in evaluations if result.flavor != ENSEMBLE_FLAVOR]
    if len(members) < 2 or config.train.ensemble_max_members < 2:
        return None
    with np.load(prepared.path(FEATURES_FILE)) as arrays:
        y_valid = arrays["y_valid"]
    if len(y_valid) == 0:
        log.info("no validation rows to choose an ensemble on: none built")
        return None
    client = configure(config)
    metric = config.registry.metric
    run_id, finished = child_run(client, config, parent_run_id, ENSEMBLE_ARCH, lineage)
    model_uri = f"runs:/{run_id}/{MEMBERS_ARTIFACT}"
    if finished:
        return EvalResult(run_id, ENSEMBLE_ARCH, ENSEMBLE_FLAVOR, model_uri,
                          logged_test_scores(client.get_run(run_id).data.metrics))
    by_arch = {result.arch: result for result in members}
    probabilities = {arch: _probabilities(result.run_id) for arch, result in by_arch.items()}
    chosen, valid_score = choose_members({arch: p["valid"] for arch, p in probabilities.items()}, y_valid, metric,
                                         prepared.num_classes, config.train.ensemble_max_members)
    test = np.mean([probabilities[arch]["test"] for arch in chosen], axis=0)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_params({"arch": ENSEMBLE_ARCH, "flavor": ENSEMBLE_FLAVOR, "members": ",".join(chosen)})
        scores = log_evaluation(prepared, test, f"ensemble of {', '.join(chosen)}")
        mlflow.log_dict({"members": [{"arch": arch, "flavor": by_arch[arch].flavor, "run_id": by_arch[arch].run_id,
                                      "model_uri": by_arch[arch].model_uri} for arch in chosen],
                         "combination": "mean of class probabilities",
                         f"valid_{metric}": valid_score}, MEMBERS_ARTIFACT)
        # What the ensemble costs: its members' training time and parameters together.
        member_metrics = [client.get_run(by_arch[arch].run_id).data.metrics for arch in chosen]
        mlflow.log_metrics({f"valid_{metric}": valid_score, "members": len(chosen), "epochs_run": 0,
                            "train_seconds": sum(m.get("train_seconds", 0.0) for m in member_metrics),
                            "param_count": sum(m.get("param_count", 0.0) for m in member_metrics),
                            **{f"{TEST_METRIC_PREFIX}{name}": value for name, value in scores.items()}})
    log.info("ensemble of %s: valid %s %.4f, test %s", chosen, metric, valid_score, scores)
    return EvalResult(run_id, ENSEMBLE_ARCH, ENSEMBLE_FLAVOR, model_uri, scores)


def _probabilities(run_id: str) -> dict[str, np.ndarray]:
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=PROBABILITIES_ARTIFACT, dst_path=tmp)
        with np.load(path) as arrays:
            return {split: arrays[split].astype(np.float64) for split in ("valid", "test")}


def member_models(members_json: str | Path, into: str | Path) -> list[tuple[str, str]]:
    """(flavor, local model path) of each member named in an ``ensemble.json``, downloaded ``into``."""
    import mlflow

    from pipeline.io import read_json

    downloaded = []
    for index, member in enumerate(read_json(members_json)["members"]):
        target = Path(into) / f"member_{index}"
        target.mkdir(parents=True, exist_ok=True)
        downloaded.append((member["flavor"], mlflow.artifacts.download_artifacts(member["model_uri"],
                                                                                  dst_path=str(target))))
    return downloaded
