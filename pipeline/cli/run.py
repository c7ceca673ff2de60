"""``rnnflow run``: one pipeline's DAG end to end with ``dag.test()``, and its figures."""

from __future__ import annotations

import argparse

from pipeline.cli import options
from pipeline.cli.airflow_runs import run_pipeline
from pipeline.cli.console import run_command


def add_parser(commands) -> None:
    from pipeline.config import discover_pipelines

    parser = commands.add_parser("run", help="run a pipeline's DAG end to end (dag.test) and print its figures")
    parser.add_argument("pipeline", nargs="?",
                        help=f"a pipeline's name ({', '.join(discover_pipelines()[0])}) or a pipeline YAML file")
    parser.add_argument("--config", help="a pipeline YAML file (the same as giving its path as PIPELINE)")
    options.add_source(parser)
    options.add_overrides(parser)
    parser.add_argument("--resume", action="store_true",
                        help="continue the pipeline's last interrupted DAG run (its own config, finished models "
                             "and training checkpoints) instead of starting a new one")
    options.add_output_mode(parser)
    parser.set_defaults(handler=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    pipeline = args.config or args.pipeline
    if not pipeline or (args.config and args.pipeline):
        args.parser.error("run: give a pipeline's name or --config FILE (one of them)")
    return run_command(pipeline, lambda: run_pipeline(pipeline, args.source, args.overrides, args.resume),
                       args.json, args.verbose)
