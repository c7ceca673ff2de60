"""Where the project's local state lives (the embedded default)."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.names import HOME_ENV

# The checkout (the package is installed editable): code, DAG files, bundled pipelines.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def state_root() -> Path:
    """Where local state lives (data, the MLflow and Airflow stores): the checkout, unless
    RNNFLOW_HOME moves it elsewhere. Read on each call, so a process can move it."""
    home = os.environ.get(HOME_ENV)
    return Path(home).expanduser().resolve() if home else PROJECT_ROOT


def resolve(path: str | Path) -> Path:
    """A config path: absolute as given, relative to the state root otherwise."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else state_root() / path


def safe_file_name(dag_run_id: str) -> str:
    """A DAG run id as one file or folder name (``manual__2026-11-30T08:40:02+00:00`` has ``:`` and ``+``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in dag_run_id)


def run_dir(data_dir: Path, dag_id: str, dag_run_id: str) -> Path:
    """A DAG run's own folder (resolved config, checkpoints, training backups)."""
    return data_dir / "runs" / dag_id / safe_file_name(dag_run_id)


def local_mlflow_dir() -> Path:
    return state_root() / ".mlflow"


def local_tracking_uri() -> str:
    return f"sqlite:///{local_mlflow_dir() / 'mlflow.db'}"


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", state_root() / ".airflow"))
