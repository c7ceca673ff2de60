"""Bad input at the command line, as a user meets it: one `rnnflow: error:` line naming the file and
row or field, exit code 2, no traceback, nothing left RUNNING in MLflow (tests/test_faults.py runs
the same kinds of input through the ingest task's code, many more of them)."""

from __future__ import annotations

import os
import subprocess

import mlflow
import pytest

from tests.conftest import PROJECT_ROOT, write_nsmc

RNNFLOW = str(PROJECT_ROOT / ".venv" / "bin" / "rnnflow")
ROWS = [f"{i}\t리뷰 문장 {i}\t{i % 2}" for i in range(1, 41)]
TEST_ROWS = [f"{i}\t시험 문장 {i}\t{i % 2}" for i in range(100, 120)]


def _nsmc_folder(tmp_path, train_rows, name="corpus"):
    folder = tmp_path / name
    folder.mkdir()
    write_nsmc(folder / "ratings_train.txt", train_rows)
    write_nsmc(folder / "ratings_test.txt", TEST_ROWS)
    return folder


def _cases(tmp_path) -> dict[str, tuple[list[str], str]]:
    bad_label = _nsmc_folder(tmp_path, ROWS + ["41\t문장\t7"], "bad_label")
    one_class = _nsmc_folder(tmp_path, [f"{i}\t리뷰 {i}\t1" for i in range(1, 41)], "one_class")
    return {
        "a bad label in the data": (["run", "nsmc", "--source", str(bad_label)],
                                    r"rnnflow: error: DAG run .* task ingest failed: CorpusFormatError: "
                                    r".*bad_label/ratings_train.txt:42: label '7' is not 0 or 1"),
        "one class: the data gate": (["run", "nsmc", "--source", str(one_class)],
                                     r"rnnflow: error: .*task ingest failed: DataValidationError: .*"
                                     r"the train split has one label"),
        "an unknown config field": (["run", "nsmc", "--set", "train.epochz=3"],
                                    r"rnnflow: error: config .*nsmc.yaml is invalid: train.epochz: unknown field"),
        "a source folder that does not exist": (["run", "nsmc", "--source", str(tmp_path / "nope")],
                                                r"rnnflow: error: corpus.source .*nope: not a folder"),
        "a source that is a file": (["run", "nsmc", "--source", str(bad_label / "ratings_train.txt")],
                                    r"rnnflow: error: corpus.source .*ratings_train.txt: not a folder"),
        "predict with an unknown model": (["predict", "no-such-model", "좋아요"],
                                          r"rnnflow: error: .*no-such-model"),
    }


def test_bad_input_at_the_cli_is_one_line_exit_2_and_leaves_nothing_running(airflow_db, mlflow_store, tmp_path):
    import re

    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store}
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    failures = []
    for name, (args, expected) in _cases(tmp_path).items():
        args = [*args, "--set", f"data_root={tmp_path / 'data'}"] if args[0] == "run" else args
        result = subprocess.run([RNNFLOW, *args], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
        errors = [line for line in result.stderr.splitlines() if line.startswith("rnnflow: error:")]
        problems = []
        if result.returncode != 2:
            problems.append(f"exit {result.returncode}")
        if len(errors) != 1 or not re.search(expected, errors[0]):
            problems.append(f"error lines {errors}")
        if "Traceback" in result.stderr + result.stdout:
            problems.append("a traceback")
        if problems:
            failures.append(f"{name}: {', '.join(problems)}\n{result.stderr[-1500:]}")
    assert not failures, "\n\n".join(failures)

    client = mlflow.MlflowClient()
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert runs, "the data cases started MLflow runs"
    assert {run.info.status for run in runs} == {"FAILED"}, [(run.info.run_name, run.info.status) for run in runs]
    assert client.search_registered_models() == []
    assert not (tmp_path / "data" / "processed" / "features").exists()


@pytest.mark.parametrize("ref", ["nsmc-sentiment@nope", "no-such-model"])
def test_lineage_of_an_unknown_model_is_one_line(mlflow_store, ref):
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store}
    result = subprocess.run([RNNFLOW, "lineage", ref], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2 and result.stderr.startswith("rnnflow: error: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
