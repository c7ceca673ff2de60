"""Hyperparameter search (the config's ``tune:`` section): an Optuna study of one architecture,
run inside the DAG before the final training.

The DAG maps ``tune_trial`` over the slots ``0 .. tune.trials - 1``. Each slot asks the study for one
trial (TPE, seeded by ``train.seed`` and the slot), trains it in a nested MLflow run under the DAG
run's parent, reports the validation loss after every epoch (the median pruner stops a trial whose
loss is worse than the median of earlier trials at the same epoch) and tells the study its best
validation loss. The study is stored in a journal file in the DAG run's folder (or
``tune.storage``): slots running at once share it, and a retried or resumed slot finds its finished
trial there instead of training it again (a trial left RUNNING by a killed try is marked FAIL and
asked again). ``best_trial`` hands the best values to the final training of that architecture.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pipeline.config import ConfigError, PipelineConfig, SearchRange
from pipeline.names import TRIAL_STATE_TAG, TRIAL_TAG
from pipeline.paths import run_dir
from pipeline.results import PreparedFeatures
from pipeline.tracking.lineage import Lineage

log = logging.getLogger(__name__)

SLOT_ATTR = "rnnflow_slot"           # on a trial: the DAG task slot that asked for it
MLFLOW_RUN_ATTR = "mlflow_run_id"    # on a trial: its nested MLflow run
STARTED_ATTR = "rnnflow_started"     # on the study: when its first trial started (the time budget's origin)
OBJECTIVE = "val_loss"


def distributions(config: PipelineConfig) -> dict[str, Any]:
    """The search space as Optuna distributions: integer fields draw integers, float fields floats."""
    values = config.to_dict()
    space = {}
    for field, dimension in config.search_space().items():
        section, _, name = field.partition(".")
        space[field] = _distribution(dimension, values[section][name])
    return space


def _distribution(dimension: SearchRange, current: Any):
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if dimension.choices is not None:
        return CategoricalDistribution(list(dimension.choices))
    if isinstance(current, int) and not isinstance(current, bool):
        return IntDistribution(int(dimension.low), int(dimension.high), log=dimension.log,
                               step=int(dimension.step or 1))
    return FloatDistribution(dimension.low, dimension.high, log=dimension.log, step=dimension.step)


def study_storage(config: PipelineConfig, lineage: Lineage):
    """``tune.storage``, else a journal file in the DAG run's folder (file-locked: concurrent trial
    processes on one host, or on hosts sharing the data volume, append to it safely)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if config.tune.storage:
        return config.tune.storage
    folder = run_dir(config.data_dir(), lineage.dag_id, lineage.dag_run_id) / "tune"
    folder.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(folder / "study.journal")))


def open_study(config: PipelineConfig, lineage: Lineage, slot: int = 0):
    """The DAG run's study of its tuned architecture, created on first use."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tune = config.tune
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=tune.pruner_startup_trials,
                                          n_warmup_steps=tune.pruner_warmup_epochs)
              if tune.pruner == "median" else optuna.pruners.NopPruner())
    # One seed per slot: slots asking at once with one seed would draw the same first values.
    sampler = optuna.samplers.TPESampler(seed=config.train.seed * 1000 + slot,
                                         n_startup_trials=min(10, max(2, tune.trials // 3)))
    return optuna.create_study(storage=study_storage(config, lineage), sampler=sampler, pruner=pruner,
                               study_name=f"{lineage.run_key}/{config.tuned_model()}", direction="minimize",
                               load_if_exists=True)


def trial_config(config: PipelineConfig, values: dict[str, Any]) -> PipelineConfig:
    """The run's config with a trial's values, trained for ``tune.epochs``."""
    epochs = {"train.epochs": config.tune.epochs} if config.tune.epochs else {}
    return config.with_values({**values, **epochs})


def pruning_callback(trial):
    """A Keras callback that reports each epoch's validation loss to ``trial`` and stops training
    when the pruner says the trial is worse than the others were at that epoch."""
    import keras

    class PruneOnValidationLoss(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best, self.pruned_at = float("inf"), None

        def on_epoch_end(self, epoch, logs=None):
            if OBJECTIVE not in (logs or {}):
                raise ConfigError("tune: a search ranks trials by validation loss, and this run has no "
                                  "validation split (corpus.valid_fraction > 0, or a corpus valid file)")
            value = float(logs[OBJECTIVE])
            self.best = min(self.best, value)
            trial.report(value, epoch)
            if trial.should_prune():
                self.pruned_at = epoch
                self.model.stop_training = True

    return PruneOnValidationLoss()


def run_trial(config: PipelineConfig, study, prepared: PreparedFeatures, slot: int, parent_run_id: str,
              lineage: Lineage) -> dict:
    """Slot ``slot``'s trial of ``study`` (``open_study`` with this slot): asked, trained in its nested
    MLflow run, told; or the finished trial a previous try of this slot left in the study."""
    import mlflow
    from optuna.trial import TrialState

    from pipeline.kinds import kind_of
    from pipeline.tracking.store import child_run, configure, log_params_once
    from pipeline.training.fitting import FitHooks

    arch = config.tuned_model()
    mine = [trial for trial in study.get_trials(deepcopy=False) if trial.user_attrs.get(SLOT_ATTR) == slot]
    done = [trial for trial in mine if trial.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    if done:
        log.info("trial slot %d already finished as trial %d; reusing it", slot, done[-1].number)
        return trial_summary(done[-1])
    for orphan in (trial for trial in mine if trial.state == TrialState.RUNNING):
        log.warning("trial %d of slot %d was left running by a stopped try: marked FAIL", orphan.number, slot)
        study.tell(orphan.number, state=TrialState.FAIL, skip_if_finished=True)

    client = configure(config)
    run_id, _ = child_run(client, config, parent_run_id, arch, lineage, trial_slot=slot)
    trial = study.ask(distributions(config))
    trial.set_user_attr(SLOT_ATTR, slot)
    trial.set_user_attr(MLFLOW_RUN_ATTR, run_id)
    trial_cfg = trial_config(config, trial.params)
    pruning = pruning_callback(trial)
    try:
        with mlflow.start_run(run_id=run_id):
            log_params_once(client, run_id, {**trial_cfg.flat_params(), "arch": arch, "trial": trial.number,
                                             **{f"tuned.{key}": value for key, value in trial.params.items()}})
            mlflow.set_tag(TRIAL_TAG, str(trial.number))
            stats = kind_of(config).fit(trial_cfg, prepared, arch, lineage, FitHooks(
                workdir=f"tune/trial-{trial.number}", callbacks=(pruning,)))
            state = TrialState.PRUNED if pruning.pruned_at is not None else TrialState.COMPLETE
            mlflow.log_metrics({"best_val_loss": pruning.best, "train_seconds": stats.train_seconds,
                                "epochs_run": stats.epochs_run, "param_count": stats.param_count})
            mlflow.set_tag(TRIAL_STATE_TAG, state.name)
    except BaseException:
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        raise
    told = study.tell(trial, None if state == TrialState.PRUNED else pruning.best, state=state)
    return trial_summary(told, train_seconds=stats.train_seconds)


def trial_summary(trial, train_seconds: float | None = None) -> dict:
    """A finished trial as the DAG passes it on: number, state, objective, values."""
    from optuna.trial import TrialState

    value = trial.value if trial.state == TrialState.COMPLETE else (
        min(trial.intermediate_values.values()) if trial.intermediate_values else None)
    summary = {"trial": trial.number, "slot": trial.user_attrs.get(SLOT_ATTR), "state": trial.state.name,
               OBJECTIVE: value, "epochs": len(trial.intermediate_values), "params": dict(trial.params),
               "mlflow_run_id": trial.user_attrs.get(MLFLOW_RUN_ATTR)}
    if train_seconds is not None:
        summary["train_seconds"] = round(train_seconds, 1)
    return summary


def time_left(config: PipelineConfig, study, slot: int) -> bool:
    """Whether slot ``slot`` may still start a trial of ``study`` under ``tune.timeout_minutes``
    (counted from the search's first trial; a slot that already asked for its trial always may, to
    hand it back)."""
    if config.tune.timeout_minutes is None:
        return True
    if any(trial.user_attrs.get(SLOT_ATTR) == slot for trial in study.get_trials(deepcopy=False)):
        return True
    started = study.user_attrs.get(STARTED_ATTR)
    if started is None:
        study.set_user_attr(STARTED_ATTR, time.time())
        return True
    return time.time() - started < config.tune.timeout_minutes * 60


def best_trial(config: PipelineConfig, study) -> dict:
    """The search's outcome: the best complete trial's values for the final training of the tuned
    architecture (empty ``params`` when no trial completed), with every trial's summary."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    complete = [trial for trial in trials if trial.state == TrialState.COMPLETE]
    outcome = {"arch": config.tuned_model(), "trials": [trial_summary(trial) for trial in trials], "params": {}}
    if complete:
        best = min(complete, key=lambda trial: trial.value)
        outcome.update(params=dict(best.params), trial=best.number, val_loss=best.value)
    return outcome


def log_search(config: PipelineConfig, parent_run_id: str, study, outcome: dict) -> None:
    """The search (``study`` and its ``best_trial`` outcome) on the parent run: the best values as
    params, its figures, every trial as a table and Optuna's optimization history as a plot."""
    import tempfile
    from collections import Counter
    from pathlib import Path

    import pandas as pd
    from mlflow.entities import Metric

    from pipeline.tracking.store import configure, log_params_once

    client = configure(config)
    states = Counter(trial["state"] for trial in outcome["trials"])
    counts = {f"tune_trials_{state.lower()}": states[state] for state in ("COMPLETE", "PRUNED", "FAIL")}
    now = int(time.time() * 1000)
    metrics = {**counts, **({"tune_best_val_loss": outcome["val_loss"]} if "val_loss" in outcome else {})}
    client.log_batch(parent_run_id, metrics=[Metric(key, float(value), now, 0) for key, value in metrics.items()])
    log_params_once(client, parent_run_id, {"tune.best_trial": outcome.get("trial", "none"),
                                            **{f"tune.best.{key}": value for key, value in outcome["params"].items()}})
    table = pd.DataFrame([{**{key: value for key, value in trial.items() if key != "params"},
                           **{f"param {key}": value for key, value in trial["params"].items()}}
                          for trial in outcome["trials"]])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trials.csv"
        table.to_csv(path, index=False)
        client.log_artifact(parent_run_id, str(path), "tune")
        plot = _history_plot(study, outcome, Path(tmp) / "optimization_history.png")
        if plot is not None:
            client.log_artifact(parent_run_id, str(plot), "tune")


def _history_plot(study, outcome: dict, path):
    """Optuna's optimization history (each trial's validation loss and the best so far), or None
    when fewer than two trials completed."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization.matplotlib import plot_optimization_history

    if sum(trial["state"] == "COMPLETE" for trial in outcome["trials"]) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "plot_optimization_history is experimental"
        axes = plot_optimization_history(study, target_name="validation loss")
    axes.figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(axes.figure)
    return path
