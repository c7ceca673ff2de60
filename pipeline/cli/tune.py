"""``rnnflow tune``: a run with a hyperparameter search (``tune.trials``) before training."""

from __future__ import annotations

import argparse

from pipeline.cli import options
from pipeline.cli.airflow_runs import run_pipeline
from pipeline.cli.console import run_command

DEFAULT_TRIALS = 10


def search_overrides(pipeline: str, overrides: list[str], trials: int | None, timeout_minutes: float | None,
                     model: str | None) -> list[str]:
    """``rnnflow tune``'s options as config overrides (a search is a run with ``tune.trials`` set)."""
    from pipeline.config import ConfigError, load_config

    if trials is not None and trials < 1:
        raise ConfigError(f"tune --trials: {trials}: give 1 or more")
    configured = load_config(pipeline, overrides).tune.trials
    added = [f"tune.trials={trials or configured or DEFAULT_TRIALS}"]
    if timeout_minutes is not None:
        added.append(f"tune.timeout_minutes={timeout_minutes}")
    if model is not None:
        added.append(f"tune.model={model}")
    return [*overrides, *added]


def add_parser(commands) -> None:
    parser = commands.add_parser("tune", help="search a model's hyperparameters (Optuna trials in the DAG), then "
                                              "train, compare and register with the best values")
    parser.add_argument("pipeline", help="a pipeline's name or a pipeline YAML file")
    parser.add_argument("--trials", type=int, help=f"trials to run (default: the config's tune.trials, else "
                                                   f"{DEFAULT_TRIALS})")
    parser.add_argument("--timeout-minutes", type=float, help="start no trial after this many minutes")
    parser.add_argument("--model", help="the architecture to tune (default: the first Keras model of train.models)")
    options.add_source(parser)
    options.add_overrides(parser, "--set 'tune.space={model.units: {low: 32, high: 128}}'")
    options.add_output_mode(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    overrides = search_overrides(args.pipeline, args.overrides, args.trials, args.timeout_minutes, args.model)
    return run_command(args.pipeline, lambda: run_pipeline(args.pipeline, args.source, overrides),
                       args.json, args.verbose)
