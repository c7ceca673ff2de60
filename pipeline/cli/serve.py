"""``rnnflow serve``: a registered version over HTTP with MLflow's scoring server."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.cli.env import configure_environment
from pipeline.names import CHAMPION


def serve_model(ref: str, host: str, port: int) -> None:
    """Replace this process with ``mlflow models serve`` for the referenced version, in this
    environment (``--env-manager local``) with the environment's ``bin`` on PATH: the scoring
    server shells out to ``uvicorn``, which is found only there."""
    import mlflow

    from pipeline.serving.batch import NoSuchModel
    from pipeline.tracking.trace import resolve_version

    configure_environment()
    try:
        version = resolve_version(mlflow.MlflowClient(), ref if "@" in ref or "/" in ref else f"{ref}@{CHAMPION}")
    except Exception as exc:
        raise NoSuchModel(f"{ref}: no such registered version ({str(exc).splitlines()[0]})") from None
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}
    command = [str(Path(bin_dir) / "mlflow"), "models", "serve", "-m", f"models:/{version.name}/{version.version}",
               "--env-manager", "local", "--host", host, "--port", str(port)]
    print(f"rnnflow: serving {version.name} version {version.version} ({ref}) at http://{host}:{port}/invocations; "
          f"Ctrl-C stops it", file=sys.stderr, flush=True)
    os.execve(command[0], command, env)


def add_parser(commands) -> None:
    parser = commands.add_parser("serve", help="serve a registered model over HTTP (the MLflow scoring server)")
    parser.add_argument("ref", help="NAME@alias (default @champion) or NAME/VERSION")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--host", default="127.0.0.1", help="the interface to listen on (loopback by default)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    serve_model(args.ref, args.host, args.port)
    return 0
