"""Promotion against a real MLflow registry on a temporary store."""

import mlflow
import pytest

from pipeline.names import CHALLENGER, CHAMPION, DECISION_TAG
from pipeline.stages.register import decide_promotion, promote

# Given requirements, MLflow does not load each model in a subprocess to infer them (about 6 s a model).
NO_INFERENCE = ["mlflow"]


def test_decide_promotion_gate():
    assert decide_promotion(0.8, None, 0.0, "accuracy")[0] == CHAMPION
    assert decide_promotion(0.86, 0.85, 0.0, "accuracy")[0] == CHAMPION
    assert decide_promotion(0.85, 0.85, 0.0, "accuracy")[0] == CHALLENGER
    assert decide_promotion(0.855, 0.85, 0.01, "accuracy")[0] == CHALLENGER


class Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def _version(client, name: str, accuracy: float, test_digest: str = "same-split") -> str:
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=Constant(), pip_requirements=NO_INFERENCE)
    version = mlflow.register_model(info.model_uri, name, tags={"rnnflow.test_accuracy": str(accuracy),
                                                                "rnnflow.test_digest": test_digest})
    return str(version.version)


def _no_rescore(model_uri):
    raise AssertionError(f"{model_uri} should not be re-scored: same test split")


def _champion(client, name: str, accuracy: float, test_digest: str) -> str:
    """A first version, promoted: the champion a later candidate is measured against."""
    version = _version(client, name, accuracy, test_digest)
    promote(client, name, version, accuracy, "accuracy", 0.0, test_digest, _no_rescore)
    return version


def test_champion_then_challenger_then_new_champion(mlflow_store):
    client = mlflow.MlflowClient()
    name = "promotion-test"
    v1 = _version(client, name, 0.85)
    assert promote(client, name, v1, 0.85, "accuracy", 0.0, "same-split", _no_rescore)[0] == CHAMPION
    v2 = _version(client, name, 0.84)
    alias, reason = promote(client, name, v2, 0.84, "accuracy", 0.0, "same-split", _no_rescore)
    assert alias == CHALLENGER and "does not beat" in reason
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == v1
    v3 = _version(client, name, 0.90)
    alias, reason = promote(client, name, v3, 0.90, "accuracy", 0.0, "same-split", _no_rescore)
    assert alias == CHAMPION and f"champion version {v1}: recorded on the same test split" in reason
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == v3
    assert client.get_model_version(name, v2).tags[DECISION_TAG] == CHALLENGER
    aliases = client.get_registered_model(name).aliases
    assert {alias: str(version) for alias, version in aliases.items()} == {CHAMPION: v3, CHALLENGER: v2}


def test_champion_from_another_test_split_is_rescored_on_this_one(mlflow_store):
    """A champion's 0.95 on another corpus's test split says nothing about this one."""
    client = mlflow.MlflowClient()
    name = "rescore-test"
    v1 = _champion(client, name, 0.95, test_digest="sample-corpus")
    v2 = _version(client, name, 0.86, test_digest="real-corpus")
    rescored = []
    alias, reason = promote(client, name, v2, 0.86, "accuracy", 0.0, "real-corpus",
                            lambda uri: rescored.append(uri) or 0.55)
    assert rescored == [f"models:/{name}/{v1}"]
    assert alias == CHAMPION and "re-scored on this run's test split" in reason and "0.5500" in reason


def test_unscorable_champion_does_not_block_promotion(mlflow_store):
    client = mlflow.MlflowClient()
    name = "broken-champion"
    _champion(client, name, 0.9, test_digest="a")
    v2 = _version(client, name, 0.8, test_digest="b")

    def broken(uri):
        raise RuntimeError("cannot load")

    alias, reason = promote(client, name, v2, 0.8, "accuracy", 0.0, "b", broken)
    assert alias == CHAMPION and "could not be scored (RuntimeError: cannot load)" in reason


class AlwaysSays(mlflow.pyfunc.PythonModel):
    """A champion from another label set: it answers one label name for every text."""

    def __init__(self, label: str):
        self.label = label

    def predict(self, context, model_input, params=None):
        import pandas as pd

        return pd.DataFrame({"label": [self.label] * len(model_input), "label_id": [0] * len(model_input)})


def test_rescoring_matches_labels_by_name_not_id(small_config, tmp_path):
    import numpy as np

    from pipeline.stages.ingest import run_ingest
    from pipeline.classification.evaluation import score_on_test_split
    from pipeline.results import FEATURES_FILE
    from pipeline.stages.preprocess import run_preprocess

    ingested = run_ingest(small_config)
    prepared = run_preprocess(small_config, ingested)
    with np.load(f"{prepared.features_dir}/{FEATURES_FILE}") as arrays:
        positive_share = float((arrays["y_test"] == 1).mean())
    for label, expected in (("positive", positive_share), ("earn", 0.0)):
        path = tmp_path / label
        mlflow.pyfunc.save_model(path, python_model=AlwaysSays(label), pip_requirements=NO_INFERENCE)
        # label_id is 0 in both: only the name says what the model meant.
        assert score_on_test_split(str(path), prepared, "accuracy") == pytest.approx(expected)
