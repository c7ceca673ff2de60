"""Test-wide setup: Airflow and MLflow point at throwaway stores before either is imported."""

from __future__ import annotations

import http.server
import os
import tempfile
import threading
from functools import partial
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_CORPORA = PROJECT_ROOT.parent / "shared" / "corpora"

# Airflow reads its config at import time, so this runs at conftest import, before any test.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="rnnflow-tests-"))
os.environ["AIRFLOW_HOME"] = str(_SESSION_DIR / "airflow")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT_ROOT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_SESSION_DIR / 'mlflow.db'}"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests run pipelines as the CLI does, trusted with any override (data_root in tmp_path, say);
# the trigger-form allowlist is tested with this unset (tests/test_trigger_overrides.py).
os.environ["RNNFLOW_TRUSTED_OVERRIDES"] = "1"
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def pytest_collection_modifyitems(config, items):
    """Everything under tests/integration runs real services or whole DAGs: never in the fast tier."""
    integration = PROJECT_ROOT / "tests" / "integration"
    for item in items:
        if integration in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _SESSION_DIR


@pytest.fixture(scope="session")
def airflow_db(session_dir):
    """The test session's Airflow metadata DB, migrated once (dag.test needs its tables)."""
    import subprocess

    subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "airflow"), "db", "migrate"], check=True,
                   env=os.environ.copy(), capture_output=True, timeout=600)


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch) -> str:
    """A fresh MLflow tracking + registry store for one test.

    The working directory moves too: MLflow's Default experiment keeps artifacts in ./mlruns.
    """
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


@pytest.fixture
def sample_corpus(tmp_path) -> Path:
    from pipeline.corpora.sample import write_sample_corpus

    return write_sample_corpus(tmp_path / "nsmc", train_rows=60, test_rows=30, seed=3)


def write_nsmc(path: Path, rows: list[str], header: str = "id\tdocument\tlabel") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def small_config(tmp_path, sample_corpus):
    """The NSMC config on the generated corpus, a throwaway data root, fast settings."""
    from pipeline.config import load_config

    return load_config("nsmc", {
        "data_root": str(tmp_path / "data"), "corpus.source": str(sample_corpus),
        "text.tokenizer": "mecab", "text.workers": 1, "train.epochs": 2, "train.batch_size": 16,
        "model.units": 8, "model.embedding_dim": 8, "tracking.experiment": "tests",
    })


@pytest.fixture
def http_root(tmp_path):
    """A real HTTP server on loopback serving (folder, base URL): downloaders are tested against it."""
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def needs_shared_corpora(name: str):
    return pytest.mark.skipif(not (SHARED_CORPORA / name).is_dir(), reason=f"../shared/corpora/{name} absent")


@pytest.fixture(scope="session", autouse=True)
def project_tree_stays_clean():
    """Tests write only to temporary folders: MLflow's ./mlruns default once leaked into the checkout."""
    yield
    leaked = [name for name in ("mlruns", "mlartifacts") if (PROJECT_ROOT / name).exists()]
    assert not leaked, f"tests wrote {leaked} into the project folder"
