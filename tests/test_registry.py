"""Promotion against a real MLflow registry on a temporary store."""

import mlflow
import pytest

from pipeline.registry import CHALLENGER, CHAMPION, DECISION_TAG, decide_promotion, promote


def test_decide_promotion_gate():
    assert decide_promotion(0.8, None, 0.0, "accuracy")[0] == CHAMPION
    assert decide_promotion(0.86, 0.85, 0.0, "accuracy")[0] == CHAMPION
    assert decide_promotion(0.85, 0.85, 0.0, "accuracy")[0] == CHALLENGER
    assert decide_promotion(0.855, 0.85, 0.01, "accuracy")[0] == CHALLENGER


class Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def _version(client, name: str, accuracy: float) -> str:
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=Constant())
    version = mlflow.register_model(info.model_uri, name, tags={"rnnflow.test_accuracy": str(accuracy)})
    return version.version


@pytest.mark.slow
def test_champion_then_challenger_then_new_champion(mlflow_store):
    client = mlflow.MlflowClient()
    name = "promotion-test"
    v1 = _version(client, name, 0.85)
    assert promote(client, name, v1, 0.85, "accuracy", 0.0)[0] == CHAMPION
    v2 = _version(client, name, 0.84)
    alias, reason = promote(client, name, v2, 0.84, "accuracy", 0.0)
    assert alias == CHALLENGER and "does not beat" in reason
    assert client.get_model_version_by_alias(name, CHAMPION).version == v1
    v3 = _version(client, name, 0.90)
    alias, reason = promote(client, name, v3, 0.90, "accuracy", 0.0)
    assert alias == CHAMPION and f"version {v1} was champion" in reason
    assert client.get_model_version_by_alias(name, CHAMPION).version == v3
    assert client.get_model_version(name, v2).tags[DECISION_TAG] == CHALLENGER
    assert client.get_registered_model(name).aliases == {CHAMPION: v3, CHALLENGER: v2}
