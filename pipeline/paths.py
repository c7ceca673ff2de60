"""Where the project's local state lives (the embedded default)."""

from __future__ import annotations

import os
from pathlib import Path

# The checkout (the package is installed editable); RNNFLOW_HOME moves all local state elsewhere.
PROJECT_ROOT = Path(os.environ.get("RNNFLOW_HOME", Path(__file__).resolve().parents[1]))


def resolve(path: str | Path) -> Path:
    """A config path: absolute as given, relative to the project root otherwise."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def local_mlflow_dir() -> Path:
    return PROJECT_ROOT / ".mlflow"


def local_tracking_uri() -> str:
    return f"sqlite:///{local_mlflow_dir() / 'mlflow.db'}"


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", PROJECT_ROOT / ".airflow"))
