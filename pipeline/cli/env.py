"""``rnnflow env``: the environment that reaches the local Airflow and MLflow stores, which every
other command sets for itself."""

from __future__ import annotations

import argparse
import os

from pipeline.paths import PROJECT_ROOT, airflow_home, local_tracking_uri


def configure_environment() -> dict[str, str]:
    """Point Airflow and MLflow at the project's local stores unless the environment says otherwise."""
    home = airflow_home()
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "MLFLOW_TRACKING_URI": local_tracking_uri(),
        # MLflow's model-size and dependency probes are noise for a local run.
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in defaults}


def add_parser(commands) -> None:
    parser = commands.add_parser("env", help="print the environment that reaches the local Airflow and MLflow stores")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for key, value in configure_environment().items():
        print(f"export {key}={value}")
    return 0
