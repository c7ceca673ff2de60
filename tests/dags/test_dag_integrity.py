"""Every DAG imports cleanly, carries tags and retries, and keeps heavy imports out of parsing."""

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

DAG_FILES = sorted((PROJECT_ROOT / "dags").glob("*.py"))
BUILT_IN_DAGS = {"nsmc_sentiment", "reuters_topics", "aihub_translation"}
TASKS = {"start_run", "architectures", "ingest", "preprocess", "train", "evaluate", "register"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == BUILT_IN_DAGS


def test_tags_retries_docs_and_schedule(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert "rnnflow" in dag.tags, dag_id
        assert dag.doc_md and "#### Params" in dag.doc_md, dag_id
        assert dag.catchup is False, dag_id
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


@pytest.mark.parametrize("dag_id", sorted(BUILT_IN_DAGS))
def test_every_pipeline_has_the_same_shape_and_params(dagbag, dag_id):
    from pipeline import names

    dag = dagbag.dags[dag_id]
    assert {t.task_id for t in dag.tasks} == TASKS
    assert type(dag.get_task("train")).__name__.endswith("MappedOperator")
    assert type(dag.get_task("evaluate")).__name__.endswith("MappedOperator")
    assert set(dag.params.keys()) == set(names.DAG_PARAM_FIELDS) | {names.OVERRIDES_PARAM}
    assert dag.get_task("register").upstream_task_ids >= {"evaluate", "preprocess", "start_run"}
    assert str(dag.timetable) == str(dagbag.dags["nsmc_sentiment"].timetable)


def test_param_choices_come_from_the_names_and_the_registries(dagbag):
    from models.registry import architectures
    from pipeline import names
    from pipeline.corpora import reader_names

    nsmc, translation = dagbag.dags["nsmc_sentiment"], dagbag.dags["aihub_translation"]
    assert nsmc.params.get_param("tokenizer").schema["enum"] == [None, *names.TOKENIZERS]
    assert nsmc.params.get_param("corpus").schema["enum"] == [None, *reader_names()]
    assert set(nsmc.params.get_param("models").schema["items"]["enum"]) == \
        set(architectures("classifiers")) | set(architectures("baselines"))
    assert translation.params.get_param("models").schema["items"]["enum"] == architectures("translators")


def test_a_pipeline_file_in_the_users_folder_becomes_a_dag(tmp_path):
    (tmp_path / "reviews.yaml").write_text(
        "dag: {schedule: '0 3 * * 1', tags: [reviews]}\ncorpus: {name: nsmc}\n", encoding="utf-8")
    code = ("from airflow.dag_processing.dagbag import DagBag; import sys; bag = DagBag(dag_folder=sys.argv[1]); "
            "print(bag.import_errors, sorted(bag.dags), sorted(bag.dags['reviews'].tags))")
    import os

    result = subprocess.run([sys.executable, "-c", code, str(PROJECT_ROOT / "dags")], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "RNNFLOW_PIPELINES": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == \
        "{} ['aihub_translation', 'nsmc_sentiment', 'reuters_topics', 'reviews'] ['classification', 'reviews', 'rnnflow']"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parsing_imports_no_heavy_modules(path):
    code = ("import runpy, sys; runpy.run_path(sys.argv[1]); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'mlflow', 'pandas', 'konlpy', 'sklearn') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
