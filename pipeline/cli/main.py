"""``rnnflow``: run a pipeline end to end on the embedded default, search its hyperparameters, or
query, move, serve and trace the champion.

    rnnflow run nsmc [--source PATH] [--set key=value ...] [--json | --verbose]
    rnnflow run --config path/to/pipeline.yaml [--set key=value ...]
    rnnflow init --source data.csv [--output pipeline.yaml]
    rnnflow tune nsmc [--trials 20] [--model lstm] [--set key=value ...]
    rnnflow demo
    rnnflow predict nsmc-sentiment TEXT [TEXT ...]
    rnnflow predict nsmc-sentiment --input reviews.csv --output predictions.parquet
    rnnflow promote nsmc-sentiment 7 --reason "..."   /   rnnflow rollback nsmc-sentiment
    rnnflow lineage nsmc-sentiment@champion   /   rnnflow lineage --dag-run nsmc_sentiment/RUN_ID
    rnnflow serve nsmc-sentiment@champion [--port 5001]
    rnnflow env
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from pipeline.cli import (
    demo,
    env,
    init_pipeline,
    lineage,
    predict,
    promote,
    run,
    serve,
    tune,
)
from pipeline.cli.console import command_log_path
from pipeline.errors import BadInput

# What a user's input can cause besides BadInput: a file they named that is missing, or one that
# would be overwritten.
USER_ERRORS = (BadInput, FileNotFoundError, FileExistsError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnflow", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (run, tune, init_pipeline, demo, predict):
        module.add_parser(commands)
    promote.add_parsers(commands)
    for module in (serve, lineage, env):
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if getattr(args, "quiet_mlflow", False):
        # Their answer is a few lines: MLflow's INFO chatter (creating a fresh store's tables, say)
        # would bury it. Runs keep every log in their log file; the server keeps its own.
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    try:
        return args.handler(args)
    except USER_ERRORS as exc:
        print(f"rnnflow: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # A fault of rnnflow or its stack: one line here, the traceback in a file.
        log_path = command_log_path(args.command)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8") as log_file:
            traceback.print_exc(file=log_file)
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"rnnflow: error: {type(exc).__name__}: {first_line}", file=sys.stderr)
        print(f"rnnflow: the traceback is in {log_path}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
