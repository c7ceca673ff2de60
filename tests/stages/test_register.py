"""Promotion against a real MLflow registry on a temporary store: the significance gate, the
prediction cache, the decision record."""

import json

import mlflow
import numpy as np
import pytest

from pipeline.kinds.classification.promotion import compare_classifiers
from pipeline.names import (
    CHALLENGER,
    CHAMPION,
    DECISION_TAG,
    PREVIOUS_CHAMPION_TAG,
    REASON_TAG,
)
from pipeline.results import predictions_artifact
from pipeline.stages.register import Gate, promote

# Given requirements, MLflow does not load each model in a subprocess to infer them (about 6 s a model).
NO_INFERENCE = ["mlflow"]
DIGEST = "same-split"
LABELS = ["negative", "positive"]
Y_TEST = np.array([0, 1] * 1000)


class Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def _predictions(accuracy: float, seed: int) -> list[str]:
    """Label names for Y_TEST, right on exactly ``accuracy`` of the rows (which rows: seeded)."""
    rng = np.random.default_rng(seed)
    wrong = rng.permutation(len(Y_TEST))[: int(round(len(Y_TEST) * (1 - accuracy)))]
    ids = Y_TEST.copy()
    ids[wrong] = 1 - ids[wrong]
    return [LABELS[i] for i in ids]


def _version(name: str, predictions: list[str] | None, test_digest: str = DIGEST) -> str:
    """A registered version whose training run recorded its test predictions (as evaluation does)."""
    # An explicit experiment: the fluent API may still hold an earlier test's (in another store).
    mlflow.set_experiment("promotion-test")
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=Constant(), pip_requirements=NO_INFERENCE)
        if predictions is not None:
            mlflow.log_dict({"test_digest": test_digest, "predictions": predictions}, predictions_artifact(test_digest))
    version = mlflow.register_model(info.model_uri, name, tags={"rnnflow.run_id": run.info.run_id})
    return str(version.version)


def _compare(candidate, champion):
    ids = [np.array([LABELS.index(label) if label in LABELS else -1 for label in p]) for p in (candidate, champion)]
    return compare_classifiers(Y_TEST, ids[0], ids[1], "accuracy", 2)


def _no_rescore(model_uri):
    raise AssertionError(f"{model_uri} should not be re-scored: its predictions are recorded")


def gate(predictions_of=_no_rescore, min_improvement=0.0, test_digest=DIGEST) -> Gate:
    return Gate("accuracy", 0.05, min_improvement, test_digest, predictions_of, _compare)


def test_first_version_is_champion_then_noise_is_challenger_then_a_real_gain_wins(mlflow_store):
    client = mlflow.MlflowClient()
    name = "promotion-test"
    v1 = _version(name, _predictions(0.85, seed=1))
    assert promote(client, name, v1, gate()) == (CHAMPION, "no champion yet")
    # Half a point better from seed noise alone: higher, but not significant.
    v2 = _version(name, _predictions(0.855, seed=2))
    alias, reason = promote(client, name, v2, gate())
    assert alias == CHALLENGER and reason.startswith("not significant at alpha 0.05")
    assert "p = " in reason and "exact McNemar" in reason and f"(champion version {v1})" in reason
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == v1
    # Five points better on 2,000 rows: significant.
    v3 = _version(name, _predictions(0.90, seed=3))
    alias, reason = promote(client, name, v3, gate())
    assert alias == CHAMPION and reason.startswith("significantly better")
    version = client.get_model_version(name, v3)
    assert float(version.tags[f"{DECISION_TAG}.p_value"]) < 0.05
    assert version.tags[PREVIOUS_CHAMPION_TAG] == v1
    record = mlflow.artifacts.load_dict(f"runs:/{version.tags['rnnflow.run_id']}/promotion/decision.json")
    assert record["decision"] == CHAMPION and record["champion_version"] == v1 and record["n"] == 2000
    assert record["candidate"] == pytest.approx(0.90) and record["p_value"] < 0.05
    assert record["ci_low"] < record["difference"] < record["ci_high"]
    aliases = client.get_registered_model(name).aliases
    assert {alias: str(v) for alias, v in aliases.items()} == {CHAMPION: v3, CHALLENGER: v2}
    # The registry page tells the same story: each decision is a dated line of the version's description.
    assert "`@champion`: no champion yet" in client.get_model_version(name, v1).description
    assert f"replaced as `@champion` by version {v3}: significantly better" in client.get_model_version(name, v1).description
    assert "`@challenger`: not significant" in client.get_model_version(name, v2).description


def test_min_improvement_holds_back_a_significant_but_small_gain(mlflow_store):
    client = mlflow.MlflowClient()
    name = "min-improvement"
    promote(client, name, _version(name, _predictions(0.85, 1)), gate())
    v2 = _version(name, _predictions(0.90, 2))
    alias, reason = promote(client, name, v2, gate(min_improvement=0.1))
    assert alias == CHALLENGER and "below min_improvement 0.1" in reason


def test_a_champion_from_another_test_split_is_scored_once_and_cached(mlflow_store):
    """The champion recorded predictions for another split: it is scored through its pyfunc on this
    one, and the result is recorded on its run, so the next candidate does not score it again."""
    client = mlflow.MlflowClient()
    name = "rescore-test"
    v1 = _version(name, _predictions(0.99, 1), test_digest="other-corpus")
    promote(client, name, v1, gate(test_digest="other-corpus"))
    calls = []

    def scored(uri):
        calls.append(uri)
        return _predictions(0.60, 4)

    v2 = _version(name, _predictions(0.86, 5))
    assert promote(client, name, v2, gate(scored))[0] == CHAMPION
    assert calls == [f"models:/{name}/{v1}"]
    run_id = client.get_model_version(name, v1).tags["rnnflow.run_id"]
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/{predictions_artifact(DIGEST)}")["predictions"][:3] == \
        _predictions(0.60, 4)[:3]
    v3 = _version(name, _predictions(0.86, 6))
    promote(client, name, v3, gate(_no_rescore))  # v2's predictions are recorded: nothing re-scored


def test_unscorable_champion_does_not_block_promotion(mlflow_store):
    client = mlflow.MlflowClient()
    name = "broken-champion"
    v1 = _version(name, None, test_digest="a")
    promote(client, name, v1, gate(test_digest="a"))
    v2 = _version(name, _predictions(0.8, 1))

    def broken(uri):
        raise RuntimeError("cannot load")

    alias, reason = promote(client, name, v2, gate(broken))
    assert alias == CHAMPION and "could not be scored (RuntimeError: cannot load)" in reason
    assert client.get_model_version(name, v2).tags[REASON_TAG] == reason


class AlwaysSays(mlflow.pyfunc.PythonModel):
    """A champion from another label set: it answers one label name for every text."""

    def __init__(self, label: str):
        self.label = label

    def predict(self, context, model_input, params=None):
        import pandas as pd

        return pd.DataFrame({"label": [self.label] * len(model_input), "label_id": [0] * len(model_input)})


def test_rescoring_matches_labels_by_name_not_id(small_config, tmp_path):
    from pipeline.kinds.classification.evaluation import (
        compare_predictions,
        test_predictions,
    )
    from pipeline.results import FEATURES_FILE
    from pipeline.stages.ingest import run_ingest
    from pipeline.stages.preprocess import run_preprocess

    prepared = run_preprocess(small_config, run_ingest(small_config))
    with np.load(f"{prepared.features_dir}/{FEATURES_FILE}") as arrays:
        truth = [LABELS[i] for i in arrays["y_test"]]
        positive_share = float((arrays["y_test"] == 1).mean())
    for label, expected in (("positive", positive_share), ("earn", 0.0)):
        path = tmp_path / label
        mlflow.pyfunc.save_model(path, python_model=AlwaysSays(label), pip_requirements=NO_INFERENCE)
        # label_id is 0 in both: only the name says what the model meant.
        predicted = test_predictions(str(path), prepared)
        comparison = compare_predictions(truth, predicted, prepared, "accuracy")
        assert comparison.champion == pytest.approx(expected) and comparison.candidate == 1.0
    assert json.dumps(comparison.to_dict())  # the record is JSON


def test_promotion_by_hand_and_rollback_record_who_what_why(mlflow_store):
    from pipeline.stages.register import promote_by_hand, rollback

    client = mlflow.MlflowClient()
    name = "by-hand"
    v1, v2, v3 = (_version(name, _predictions(0.85, seed)) for seed in (1, 2, 3))
    promote(client, name, v1, gate())
    assert promote_by_hand(client, name, v2, "v1 misroutes refunds (ticket 812)", "kim") == v1
    assert promote_by_hand(client, name, v3, "weekend hotfix", "lee") == v2
    version = client.get_model_version(name, v3)
    assert version.tags[REASON_TAG] == "promoted by hand by lee: weekend hotfix (replacing version 2)"
    assert "`@champion`: promoted by hand by lee: weekend hotfix" in version.description
    assert "replaced as `@champion` by version 3" in client.get_model_version(name, v2).description
    with pytest.raises(ValueError, match="already @champion"):
        promote_by_hand(client, name, v3, "again", "lee")
    with pytest.raises(LookupError, match=r"has no version 9 \(versions: \['1', '2', '3'\]\)"):
        promote_by_hand(client, name, "9", "typo", "lee")
    with pytest.raises(ValueError, match="needs a reason"):
        promote_by_hand(client, name, v1, " ", "lee")
    # Rollback walks back through the history, one champion at a time.
    assert rollback(client, name, "hotfix broke batch scoring", "park") == (v3, v2)
    assert "rolled back from version 3 by park: hotfix broke batch scoring" in \
        client.get_model_version(name, v2).tags[REASON_TAG]
    assert rollback(client, name, "", "park") == (v2, v1)
    with pytest.raises(LookupError, match="records no previous champion"):
        rollback(client, name, "", "park")


_RACER = """
import sys, time
import mlflow
from pipeline.stages.register import promote
from tests.stages.test_register import Gate, _compare, _no_rescore

def slow_compare(candidate, champion):
    time.sleep(3)  # wide enough for the other process to read the same champion, were it not locked
    return _compare(candidate, champion)

name, version = sys.argv[1:]
alias, reason = promote(mlflow.MlflowClient(), name, version, Gate("accuracy", 0.05, 0.0, "same-split",
                                                                      _no_rescore, slow_compare))
print(alias)
"""


@pytest.mark.slow
def test_concurrent_promotions_take_turns_so_the_record_matches_the_alias(mlflow_store):
    """Two runs finishing at once, in two processes: the second compares against the first's result,
    not against the champion both started from, so every version's decision is still true."""
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    client = mlflow.MlflowClient()
    name = "concurrent"
    v1 = _version(name, _predictions(0.80, seed=1))
    promote(client, name, v1, gate())
    candidates = {_version(name, _predictions(0.87, seed=2)): 0.87, _version(name, _predictions(0.95, seed=3)): 0.95}
    racers = [subprocess.Popen([sys.executable, "-c", _RACER, name, version], cwd=PROJECT_ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE) for version in candidates]
    outputs = [racer.communicate(timeout=300) for racer in racers]
    assert all(racer.returncode == 0 for racer in racers), [err[-2000:] for _, err in outputs]

    records = {version: mlflow.artifacts.load_dict(
        f"runs:/{client.get_model_version(name, version).tags['rnnflow.run_id']}/promotion/decision.json")
        for version in candidates}
    first, second = sorted(candidates, key=lambda version: records[version]["champion_version"] != v1)
    assert records[first]["champion_version"] == v1 and records[first]["decision"] == CHAMPION
    assert records[second]["champion_version"] == first, records  # it saw the first one's promotion
    best = max(candidates, key=candidates.get)
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == best
    for version in candidates:
        recorded = client.get_model_version(name, version).tags[DECISION_TAG]
        assert recorded == records[version]["decision"]
    holding = [version for version in candidates if version != best]
    # The loser's record says what happened to it: challenger, or champion and then replaced by the best.
    for version in holding:
        description = client.get_model_version(name, version).description
        assert records[version]["decision"] == CHALLENGER or f"replaced as `@champion` by version {best}" \
            in description, description
