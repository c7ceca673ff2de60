"""Lineage links that do not resolve are shown as BROKEN with the reason, never skipped."""

import mlflow
import pytest

from pipeline.tracking.trace import trace_version


class Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def test_a_version_without_its_dag_run_shows_every_missing_link(mlflow_store):
    client = mlflow.MlflowClient()
    # An explicit experiment: the fluent API may still hold an earlier test's (in another store).
    mlflow.set_experiment("trace-test")
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=Constant(), pip_requirements=["mlflow"])
    version = mlflow.register_model(info.model_uri, "orphan", tags={
        "rnnflow.run_id": run.info.run_id, "rnnflow.dag_id": "nsmc_sentiment", "rnnflow.dag_run_id": "gone",
        "rnnflow.config_hash": "abc", "rnnflow.git_commit": "unknown"})
    client.set_registered_model_alias("orphan", "champion", version.version)
    trace = trace_version(client, "orphan")
    text = trace.render()
    assert not trace.complete
    assert "parent run       none  [BROKEN]" in text and "the training run has no parent" in text
    assert "config           hash abc  [BROKEN]" in text
    assert "code             git commit unknown  [BROKEN]" in text
    with pytest.raises(LookupError, match="orphan@challenger: no such registered version"):
        trace_version(client, "orphan@challenger")
