"""``rnnflow promote`` and ``rnnflow rollback``: move ``@champion`` by hand, who and why recorded."""

from __future__ import annotations

import argparse
import os

from pipeline.cli.env import configure_environment


def move_champion(args) -> str:
    """``rnnflow promote`` / ``rollback``: who, what and why recorded on the version."""
    import getpass

    import mlflow

    from pipeline.stages.register import promote_by_hand, rollback

    configure_environment()
    client = mlflow.MlflowClient()
    who = os.environ.get("RNNFLOW_USER") or getpass.getuser()
    if args.command == "promote":
        previous = promote_by_hand(client, args.model_name, args.version, args.reason, who)
        return f"{args.model_name} version {args.version} is @champion (was: {previous or 'none'})"
    current, restored = rollback(client, args.model_name, args.reason, who)
    return f"{args.model_name}: @champion back to version {restored} (from {current})"


def add_parsers(commands) -> None:
    promote = commands.add_parser("promote", help="move @champion to a version by hand, with a recorded reason")
    promote.add_argument("model_name")
    promote.add_argument("version")
    promote.add_argument("--reason", required=True, help="why: recorded on the version (tag and description)")
    promote.set_defaults(handler=run, quiet_mlflow=True)
    rollback = commands.add_parser("rollback", help="give @champion back to the version the champion replaced")
    rollback.add_argument("model_name")
    rollback.add_argument("--reason", default="", help="why: recorded on the version")
    rollback.set_defaults(handler=run, quiet_mlflow=True)


def run(args: argparse.Namespace) -> int:
    print(move_champion(args))
    return 0
