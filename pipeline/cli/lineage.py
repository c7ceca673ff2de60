"""``rnnflow lineage``: where a registered version came from, each link checked."""

from __future__ import annotations

import argparse

from pipeline.cli.env import configure_environment
from pipeline.errors import BadValue


def print_lineage(ref: str | None, dag_run: str | None) -> int:
    """Exit 0 when every link resolves, 1 when one is broken (printed as BROKEN with its reason)."""
    import mlflow

    from pipeline.tracking.trace import trace_dag_run, trace_version

    configure_environment()
    client = mlflow.MlflowClient()
    if dag_run:
        dag_id, _, run_id = dag_run.partition("/")
        if not run_id:
            raise BadValue(f"--dag-run {dag_run}: expected DAG_ID/RUN_ID")
        trace = trace_dag_run(client, dag_id, run_id)
    else:
        trace = trace_version(client, ref)
    print(trace.render())
    return 0 if trace.complete else 1


def add_parser(commands) -> None:
    parser = commands.add_parser("lineage", help="where a registered version came from, each link checked")
    parser.add_argument("ref", nargs="?", help="NAME@alias, NAME/VERSION or NAME (its @champion)")
    parser.add_argument("--dag-run", metavar="DAG_ID/RUN_ID", help="walk from a DAG run to its runs and version")
    parser.set_defaults(handler=run, parser=parser, quiet_mlflow=True)


def run(args: argparse.Namespace) -> int:
    if bool(args.ref) == bool(args.dag_run):
        args.parser.error("lineage: give a model reference or --dag-run DAG_ID/RUN_ID (one of them)")
    return print_lineage(args.ref, args.dag_run)
