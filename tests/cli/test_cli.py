"""The CLI's own logic: the results table, the console/log split, pipeline files joining the DAG file."""

from __future__ import annotations

import os
import subprocess
import sys

from pipeline import progress
from pipeline.cli.airflow_runs import make_discoverable
from pipeline.cli.console import console_and_log, summary_table
from tests.conftest import PROJECT_ROOT


def test_summary_table_lists_models_metrics_and_the_decision():
    summary = {"models": {"lstm": {"test_accuracy": 0.86, "test_macro_f1": 0.859, "train_seconds": 310.2,
                                   "epochs_run": 5, "param_count": 3_000_000,
                                   "test_inference_sentences_per_second": 900.0},
                          "tfidf_logreg": {"test_accuracy": 0.87, "test_macro_f1": 0.869, "train_seconds": 9.1,
                                           "epochs_run": 1, "param_count": 20_000}},
               "registered": {"model_name": "nsmc-sentiment", "version": "3", "arch": "tfidf_logreg",
                              "alias": "champion", "reason": "no champion"},
               "rows": {"train": 10}, "wall_seconds": 400.0, "parent_run_id": "abc"}
    lines = summary_table(summary).splitlines()
    assert lines[0].split() == ["model", "accuracy", "macro_f1", "train", "s", "epochs", "params"]
    assert lines[2].split()[:3] == ["lstm", "0.8600", "0.8590"] and "3,000,000" in lines[2]
    assert "per_second" not in lines[0]
    assert lines[4] == "registry: nsmc-sentiment version 3 (tfidf_logreg) -> @champion: no champion"


# A child interpreter: file descriptors 1 and 2 are redirected, which pytest's capture must not see.
SPLIT = """
import os, sys
from pathlib import Path
from pipeline import progress
from pipeline.cli.console import console_and_log
with console_and_log(Path(sys.argv[1]), verbose=False, show_progress=True):
    progress.line("stage line")
    print("airflow says a lot")
    os.system("echo from a subprocess >&2")
print("after")
"""


def test_console_gets_progress_and_the_log_file_gets_everything_else(tmp_path):
    log = tmp_path / "run.log"
    result = subprocess.run([sys.executable, "-c", SPLIT, str(log)], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "stage line\n"
    assert result.stdout == "after\n"
    assert log.read_text() == "airflow says a lot\nfrom a subprocess\n"
    assert not progress.attached()


def test_verbose_leaves_the_logs_on_the_terminal(tmp_path, capfd):
    with console_and_log(tmp_path / "run.log", verbose=True, show_progress=False):
        print("visible")
    assert "visible" in capfd.readouterr().out and not (tmp_path / "run.log").exists()


def test_a_yaml_outside_the_pipelines_folders_joins_the_dag_files_list(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNFLOW_PIPELINES", str(tmp_path / "mine"))
    (tmp_path / "mine").mkdir()
    pipeline = tmp_path / "elsewhere" / "tickets.yaml"
    pipeline.parent.mkdir()
    pipeline.write_text("corpus: {name: nsmc}\n")
    make_discoverable(str(pipeline))
    assert os.environ["RNNFLOW_PIPELINES"] == os.pathsep.join([str(tmp_path / "mine"), str(pipeline)])
    make_discoverable(str(pipeline))  # already known: not added twice
    assert os.environ["RNNFLOW_PIPELINES"].count("tickets.yaml") == 1
    make_discoverable("nsmc")  # a built-in name: nothing to add
    assert os.environ["RNNFLOW_PIPELINES"].count(os.pathsep) == 1


def test_rnnflow_home_moves_the_state_but_not_the_code(tmp_path):
    """RNNFLOW_HOME moves data and stores; DAG files and code stay in the checkout (a run with it
    once failed looking for dags/ under the home)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "MLFLOW_"))}
    env["RNNFLOW_HOME"] = str(tmp_path)
    result = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "rnnflow"), "env"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    exported = dict(line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines())
    assert exported["AIRFLOW_HOME"] == str(tmp_path / ".airflow")
    assert exported["MLFLOW_TRACKING_URI"] == f"sqlite:///{tmp_path / '.mlflow' / 'mlflow.db'}"
    assert exported["AIRFLOW__CORE__DAGS_FOLDER"] == str(PROJECT_ROOT / "dags")
    code = "from pipeline.paths import resolve; print(resolve('data'))"
    located = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert located.stdout.strip() == str(tmp_path / "data"), located.stderr


INTERNAL_ERROR = """
import sys
from pathlib import Path
import pipeline.cli.console as cli
cli.run_log_path = lambda pipeline: Path(sys.argv[1])

def produce():
    raise RuntimeError("UNIQUE constraint failed: asset.name\\n[SQL: INSERT INTO asset ...]")

sys.exit(cli.run_command("nsmc", produce, as_json=False, verbose=False))
"""


def test_an_internal_error_is_one_line_with_the_traceback_in_the_log(tmp_path):
    log = tmp_path / "run.log"
    result = subprocess.run([sys.executable, "-c", INTERNAL_ERROR, str(log)], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"rnnflow: logs in {log} (--verbose shows them here)",
        "rnnflow: error: RuntimeError: UNIQUE constraint failed: asset.name",
        f"rnnflow: the traceback is in {log}"]
    assert "Traceback (most recent call last)" in log.read_text() and "in produce" in log.read_text()
