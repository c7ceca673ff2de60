"""The hyperparameter search's own logic (pipeline.stages.tune, the `tune:` config section, `rnnflow tune`'s
options) on real Optuna studies; the search inside a DAG run is tests/integration/test_tune_dag.py."""

import time

import numpy as np
import pytest

from pipeline.config import ConfigError, load_config
from pipeline.tracking.lineage import Lineage


def _config(tmp_path, *overrides):
    return load_config("nsmc", [f"data_root={tmp_path / 'data'}", "tune.trials=3", *overrides])


@pytest.mark.parametrize("override, message", [
    ("tune.space={model.units: {low: 8.5, high: 16}}", "tune.space.model.units: model.units is an integer"),
    ("tune.space={model.unit: {low: 8, high: 16}}", "tune.space.model.unit: model has no field 'unit'"),
    ("tune.space={model.dropout_rate: {low: 0.1, high: 1.5}}",
     "tune.space.model.dropout_rate: the value 1.5 is not valid: model.dropout_rate"),
    ("tune.space={train.seed: {choices: [1, 2]}}", "tune.space.train.seed: a search varies model.* and train.*"),
    ("tune.space={text.min_freq: {low: 1, high: 3}}", "tune.space.text.min_freq: a search varies model.*"),
    ("tune.space={model.units: {low: 8}}", "give low and high (a range) or choices"),
    ("tune.space={model.units: {low: 16, high: 8}}", "low 16.0 is above high 8.0"),
    ("tune.space={train.learning_rate: {low: 0, high: 0.1, log: true}}", "a log range needs low above 0"),
    ("tune.space={model.embedding_init: {low: 1, high: 2}}", "model.embedding_init is not a number"),
    ("tune.model=gru", "tune.model: 'gru' is not one of train.models ['lstm']"),
])
def test_a_bad_search_space_is_one_error_naming_the_field(tmp_path, override, message):
    with pytest.raises(ConfigError) as error:
        _config(tmp_path, override)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_baseline_is_not_tuned_and_a_run_of_baselines_has_nothing_to_tune(tmp_path):
    with pytest.raises(ConfigError, match="tune.model: 'tfidf_nb' is a TF-IDF baseline"):
        _config(tmp_path, "train.models=[lstm, tfidf_nb]", "tune.model=tfidf_nb")
    with pytest.raises(ConfigError, match="has no Keras model to tune"):
        _config(tmp_path, "train.models=[tfidf_logreg, tfidf_nb]")
    assert _config(tmp_path, "train.models=[tfidf_nb, gru, lstm]").tuned_model() == "gru"


def test_integer_fields_draw_integers_floats_floats_and_choices_their_values(tmp_path):
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    from pipeline.stages.tune import distributions

    config = _config(tmp_path, "tune.space={model.units: {low: 8, high: 64, log: true}, "
                               "model.dropout_rate: {low: 0.0, high: 0.4, step: 0.1}, "
                               "model.embedding_init: {choices: [random, word2vec]}}")
    space = distributions(config)
    assert space["model.units"] == IntDistribution(8, 64, log=True)
    assert space["model.dropout_rate"] == FloatDistribution(0.0, 0.4, step=0.1)
    assert space["model.embedding_init"] == CategoricalDistribution(["random", "word2vec"])
    # Without a space: the default one, over fields every Keras architecture reads.
    assert set(distributions(_config(tmp_path))) == {"train.learning_rate", "model.units", "model.dropout_rate",
                                                     "train.batch_size"}


def test_a_trial_config_carries_the_drawn_values_and_the_trial_epochs(tmp_path):
    from pipeline.stages.tune import trial_config

    config = _config(tmp_path, "tune.epochs=2")
    tried = trial_config(config, {"model.units": 17, "train.learning_rate": 0.004})
    assert (tried.model.units, tried.train.learning_rate, tried.train.epochs) == (17, 0.004, 2)
    assert (config.model.units, config.train.epochs) == (128, 3)  # the run's own config is unchanged


class _Model:
    stop_training = False


def _report(callback, losses):
    callback.set_model(_Model())
    for epoch, loss in enumerate(losses):
        callback.on_epoch_end(epoch, {"val_loss": loss})
        if callback.model.stop_training:
            break
    return callback


def test_the_pruner_stops_a_trial_worse_than_the_median_at_the_same_epoch():
    import optuna

    from pipeline.stages.tune import pruning_callback

    study = optuna.create_study(direction="minimize",
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=1))
    first = study.ask()
    done = _report(pruning_callback(first), [0.7, 0.5, 0.4])
    assert done.pruned_at is None and done.best == 0.4
    study.tell(first, done.best)

    worse = _report(pruning_callback(study.ask()), [0.8, 0.9, 0.3])
    assert worse.pruned_at == 1 and worse.model.stop_training  # epoch 0 is warm-up; 0.9 > 0.5 at epoch 1
    assert worse.best == 0.8
    better = _report(pruning_callback(study.ask()), [0.6, 0.45, 0.35])
    assert better.pruned_at is None and better.best == 0.35


def test_a_run_without_a_validation_split_cannot_rank_trials():
    import optuna

    from pipeline.stages.tune import pruning_callback

    callback = pruning_callback(optuna.create_study().ask())
    callback.set_model(_Model())
    with pytest.raises(ConfigError, match="no validation split"):
        callback.on_epoch_end(0, {"loss": 0.5})


def test_the_time_budget_counts_from_the_first_trial_and_spares_a_slot_that_has_its_trial(tmp_path):
    from pipeline.stages.tune import SLOT_ATTR, STARTED_ATTR, open_study, time_left

    config = _config(tmp_path, "tune.timeout_minutes=1")
    lineage = Lineage("nsmc_sentiment", "manual__budget", "h")
    assert time_left(config, open_study(config, lineage, 0), 0)  # the first call starts the clock
    study = open_study(config, lineage)  # another process's view of the stored study
    assert abs(study.user_attrs[STARTED_ATTR] - time.time()) < 60
    assert time_left(config, study, 1)
    trial = study.ask()
    trial.set_user_attr(SLOT_ATTR, 2)
    study.set_user_attr(STARTED_ATTR, time.time() - 61)
    assert not time_left(config, open_study(config, lineage, 1), 1)
    assert time_left(config, study, 2)  # slot 2 asked before the budget ran out: it hands its trial back
    assert time_left(_config(tmp_path), study, 5)  # no budget set


def test_slots_asking_at_once_draw_different_first_values(tmp_path):
    from pipeline.stages.tune import distributions, open_study

    config = _config(tmp_path)
    lineage = Lineage("nsmc_sentiment", "manual__seeds", "h")
    drawn = [open_study(config, lineage, slot).ask(distributions(config)).params for slot in range(3)]
    assert len({tuple(sorted(values.items())) for values in drawn}) == 3
    # ...and the same slot of another run with the same seed draws the same values: reproducible.
    again = open_study(config, Lineage("nsmc_sentiment", "manual__seeds2", "h"), 1).ask(distributions(config))
    assert again.params == drawn[1]


def test_best_trial_takes_the_lowest_complete_loss_and_ignores_pruned_ones(tmp_path):
    from optuna.trial import TrialState

    from pipeline.stages.tune import SLOT_ATTR, best_trial, distributions, open_study

    config = _config(tmp_path)
    lineage = Lineage("nsmc_sentiment", "manual__best", "h")
    study = open_study(config, lineage)
    outcomes = [(0.5, TrialState.COMPLETE), (0.2, TrialState.PRUNED), (0.4, TrialState.COMPLETE),
                (None, TrialState.FAIL)]
    for slot, (loss, state) in enumerate(outcomes):
        trial = study.ask(distributions(config))
        trial.set_user_attr(SLOT_ATTR, slot)
        if loss is not None:
            trial.report(loss, 0)
        study.tell(trial, loss if state == TrialState.COMPLETE else None, state=state)
    outcome = best_trial(config, open_study(config, lineage))
    assert outcome["trial"] == 2 and outcome["val_loss"] == 0.4 and outcome["arch"] == "lstm"
    assert outcome["params"] == study.trials[2].params
    assert [trial["state"] for trial in outcome["trials"]] == ["COMPLETE", "PRUNED", "COMPLETE", "FAIL"]
    assert outcome["trials"][1]["val_loss"] == 0.2  # a pruned trial's best reported loss


def test_rnnflow_tune_turns_its_options_into_overrides(tmp_path):
    from pipeline.cli.tune import DEFAULT_TRIALS, search_overrides

    assert search_overrides("nsmc", [], None, None, None) == [f"tune.trials={DEFAULT_TRIALS}"]
    assert search_overrides("nsmc", ["tune.trials=7"], None, 30, "lstm") == [
        "tune.trials=7", "tune.trials=7", "tune.timeout_minutes=30", "tune.model=lstm"]
    assert search_overrides("nsmc", [], 3, None, None) == ["tune.trials=3"]
    with pytest.raises(ConfigError, match="--trials: 0"):
        search_overrides("nsmc", [], 0, None, None)


def test_the_search_values_reach_the_trial_model(tmp_path):
    """A drawn `model.units` builds a model of that width (the trial config is what the builder reads)."""
    from models.registry import build_classifier
    from pipeline.stages.tune import trial_config

    config = trial_config(_config(tmp_path), {"model.units": 12, "model.embedding_dim": 6})
    model = build_classifier("lstm", config.model, vocab_size=50, num_classes=2)
    model(np.zeros((1, 4), dtype="int32"))
    lstm = next(layer for layer in model.layers if "lstm" in layer.name.lower())
    assert lstm.units == 12


def test_a_slot_past_the_time_budget_says_skipped_not_failed():
    import io

    from airflow.sdk.exceptions import AirflowSkipException

    from pipeline import progress

    console = io.StringIO()
    progress.attach(console)
    try:
        for error in (AirflowSkipException("tune.timeout_minutes (1.0) spent: slot 4 starts no trial"),
                      RuntimeError("the worker died")):
            with pytest.raises(type(error)):
                with progress.stage("tune trial slot 4"):
                    raise error
    finally:
        progress.attach(None)
    skipped, failed = console.getvalue().splitlines()
    assert skipped.endswith("s  skipped: tune.timeout_minutes (1.0) spent: slot 4 starts no trial")
    assert failed.endswith("s  FAILED: the worker died")
