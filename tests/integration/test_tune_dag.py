"""The hyperparameter search inside a real DAG run (dag.test()): trials as mapped tasks and nested
MLflow runs, a shared Optuna study in the run's folder, the best values in the final model; a
retried slot reuses its trial and a trial orphaned by a killed try is failed and asked again."""

import mlflow
import pytest
from optuna.trial import TrialState

pytestmark = pytest.mark.slow

SPACE = ("tune.space={model.units: {low: 4, high: 32, log: true}, "
         "train.learning_rate: {low: 0.001, high: 0.03, log: true}}")


def test_a_search_runs_its_trials_in_the_dag_and_trains_the_final_model_with_the_best(
        airflow_db, mlflow_store, sample_corpus, tmp_path):
    from pipeline.cli.airflow_runs import load_dag

    overrides = [f"data_root={tmp_path / 'data'}", f"corpus.source={sample_corpus}", "text.workers=1",
                 "train.epochs=2", "train.batch_size=16", "model.units=8", "model.embedding_dim=8",
                 "model.embedding_init=random", "tracking.experiment=tune-test", "tune.trials=3", "tune.epochs=3",
                 "tune.pruner_startup_trials=1", "tune.pruner_warmup_epochs=0", SPACE]
    dag_run = load_dag("nsmc").test(run_conf={"overrides": overrides})
    assert str(getattr(dag_run.state, "value", dag_run.state)) == "success"

    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("tune-test").experiment_id
    runs = client.search_runs([experiment])
    parent = next(run for run in runs if run.data.tags["rnnflow.role"] == "parent")
    trials = sorted((run for run in runs if run.data.tags["rnnflow.role"] == "trial"),
                    key=lambda run: int(run.data.tags["rnnflow.trial"]))
    final = next(run for run in runs if run.data.tags["rnnflow.role"] == "child")

    # Three trials, nested under the parent like the architectures, each with its drawn values.
    assert len(trials) == 3
    for run in trials:
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id and run.info.status == "FINISHED"
        assert run.data.tags["rnnflow.trial_state"] in ("COMPLETE", "PRUNED")
        assert 4 <= int(run.data.params["tuned.model.units"]) <= 32
        assert run.data.params["model.units"] == run.data.params["tuned.model.units"]
        assert run.data.params["train.epochs"] == "3"
        assert run.data.metrics["best_val_loss"] > 0
        assert not client.list_artifacts(run.info.run_id, "keras")  # a trial keeps no model
    assert len({run.data.params["tuned.model.units"] + run.data.params["tuned.train.learning_rate"]
                for run in trials}) == 3

    # The study in the run's folder agrees, and its best trial's values trained the final model.
    from pipeline.config import load_config
    from pipeline.stages.tune import open_study
    from pipeline.tracking.lineage import Lineage

    config = load_config("nsmc", overrides)
    study = open_study(config, Lineage("nsmc_sentiment", dag_run.run_id, config.config_hash()))
    assert len(list((tmp_path / "data" / "runs" / "nsmc_sentiment").glob("*/tune/study.journal"))) == 1
    finished = [trial for trial in study.trials if trial.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 3
    best = min((trial for trial in finished if trial.state == TrialState.COMPLETE), key=lambda trial: trial.value)
    assert final.data.tags["rnnflow.trial"] == str(best.number)
    assert int(final.data.params["model.units"]) == best.params["model.units"]
    assert float(final.data.params["train.learning_rate"]) == pytest.approx(best.params["train.learning_rate"])
    assert final.data.params["train.epochs"] == "2"  # the final training keeps train.epochs
    assert parent.data.params["tune.best_trial"] == str(best.number)
    assert parent.data.metrics["tune_best_val_loss"] == pytest.approx(best.value)
    assert {"tune/trials.csv"} <= {a.path for a in client.list_artifacts(parent.info.run_id, "tune")}
    summary = mlflow.artifacts.load_dict(f"runs:/{parent.info.run_id}/summary.json")
    assert summary["tune"]["best_trial"] == str(best.number)
    version = client.get_model_version("nsmc-sentiment", "1")
    assert version.tags["rnnflow.run_id"] == final.info.run_id
    from pipeline.tracking.trace import trace_version

    traced = trace_version(client, "nsmc-sentiment/1").render()
    import re

    assert re.search(rf"tuned by +search trial {best.number} of the parent run: "
                     rf"model.units={best.params['model.units']}, train.learning_rate=", traced), traced
    assert "[BROKEN]" not in traced.split("\n  code")[0], traced

    # A retried slot hands back its finished trial; a trial left RUNNING by a killed try is failed
    # and its slot asks the study again.
    from pipeline.orchestration import tasks
    from pipeline.stages.tune import SLOT_ATTR, distributions

    run = tasks.start_run("nsmc", {"overrides": overrides}, "nsmc_sentiment", dag_run.run_id)
    prepared = tasks.preprocess(run, tasks.ingest(run))
    again = tasks.tune_trial(run, prepared, 1)
    first = next(trial for trial in finished if trial.user_attrs[SLOT_ATTR] == 1)
    assert again["trial"] == first.number and again["state"] == first.state.name
    assert len(open_study(config, Lineage("nsmc_sentiment", dag_run.run_id, "")).trials) == 3

    orphan = study.ask(distributions(config))
    orphan.set_user_attr(SLOT_ATTR, 3)
    redone = tasks.tune_trial(run, prepared, 3)
    states = {trial.number: trial.state for trial in open_study(config, Lineage("nsmc_sentiment", dag_run.run_id,
                                                                                "")).trials}
    assert states[orphan.number] == TrialState.FAIL
    assert redone["trial"] == orphan.number + 1 and states[redone["trial"]] in (TrialState.COMPLETE,
                                                                                TrialState.PRUNED)
    assert not [run for run in client.search_runs([experiment]) if run.info.status == "RUNNING"]


def test_rnnflow_tune_from_the_shell_prints_the_search_with_the_run(airflow_db, mlflow_store, sample_corpus, tmp_path):
    import json
    import os
    import subprocess

    from tests.conftest import PROJECT_ROOT

    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store}
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    args = ["tune", "nsmc", "--trials", "2", "--source", str(sample_corpus), "--json"]
    for item in [f"data_root={tmp_path / 'data'}", "text.workers=1", "train.epochs=2", "train.batch_size=16",
                 "model.embedding_dim=8", "model.embedding_init=random", "tracking.experiment=tune-cli", SPACE]:
        args += ["--set", item]
    result = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "rnnflow"), *args], capture_output=True,
                            text=True, env=env, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    search = summary["tune"]
    assert sum(search["trials"].values()) == 2 and search["trials"]["fail"] == 0
    assert search["trials"]["complete"] >= 1  # the first trial is never pruned: nothing to compare it with
    assert set(search["best"]) == {"model.units", "train.learning_rate"}
    final = mlflow.MlflowClient().get_run(summary["models"]["lstm"]["run_id"])
    assert final.data.params["model.units"] == search["best"]["model.units"]
    assert summary["registered"]["version"] == "1"

    # A bad search space is one line naming the field, before any work starts.
    bad = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "rnnflow"), "tune", "nsmc", "--source",
                          str(sample_corpus), "--set", "tune.space={model.units: {low: 8, high: 2}}"],
                         capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "rnnflow: error: config " + str(PROJECT_ROOT / "pipeline" / "configs" / "nsmc.yaml")
        + " is invalid: tune.space.model.units: low 8.0 is above high 2.0"]
