"""Every DAG imports cleanly, carries tags and retries, and keeps heavy imports out of parsing."""

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

DAG_FILES = sorted((PROJECT_ROOT / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) == len(DAG_FILES) >= 1


def test_tags_retries_docs_and_schedule(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert "rnnflow" in dag.tags, dag_id
        assert dag.doc_md, dag_id
        assert dag.catchup is False, dag_id
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_nsmc_dag_shape(dagbag):
    dag = dagbag.dags["nsmc_sentiment"]
    assert {t.task_id for t in dag.tasks} == {"start_run", "architectures", "ingest", "preprocess", "train",
                                              "evaluate", "register"}
    assert type(dag.get_task("train")).__name__.endswith("MappedOperator")
    assert type(dag.get_task("evaluate")).__name__.endswith("MappedOperator")
    assert set(dag.params.keys()) == {"source", "tokenizer", "epochs", "models", "overrides"}
    assert dag.get_task("register").upstream_task_ids >= {"evaluate", "preprocess", "start_run"}


def test_reuters_dag_has_the_same_shape_and_corpus_params(dagbag):
    nsmc, reuters = dagbag.dags["nsmc_sentiment"], dagbag.dags["reuters_topics"]
    assert {t.task_id for t in reuters.tasks} == {t.task_id for t in nsmc.tasks}
    assert set(reuters.params.keys()) == set(nsmc.params.keys()) | {"corpus", "subset"}
    assert reuters.schedule == nsmc.schedule or str(reuters.timetable) == str(nsmc.timetable)


def test_translation_dag_has_the_same_shape(dagbag):
    nsmc, translation = dagbag.dags["nsmc_sentiment"], dagbag.dags["aihub_translation"]
    assert {t.task_id for t in translation.tasks} == {t.task_id for t in nsmc.tasks}
    assert set(translation.params.keys()) == set(nsmc.params.keys()) | {"corpus"}


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parsing_imports_no_heavy_modules(path):
    code = ("import runpy, sys; runpy.run_path(sys.argv[1]); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'mlflow', 'pandas', 'konlpy', 'sklearn') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
