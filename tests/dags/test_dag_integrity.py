"""Every DAG imports cleanly, carries tags and retries, and keeps heavy imports out of parsing."""

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

BUILT_IN_DAGS = {"nsmc_sentiment", "reuters_topics", "aihub_translation", "sms_spam", "imdb_sentiment"}
# Each pipeline also has its batch-scoring DAG.
BATCH_DAGS = {f"{dag_id}_batch" for dag_id in BUILT_IN_DAGS}
TASKS = {"start_run", "architectures", "ingest", "preprocess", "tune_slots", "tune_trial", "tune_best", "train",
         "evaluate", "ensemble", "register", "announce_champion"}
TRAINING_TASKS = {"train", "tune_trial"}  # what goes to the training queue (the GPU workers)


@pytest.fixture(scope="module")
def dagbag():
    """The DAGs as a dag-processor parses them with no training queue configured."""
    import os

    from airflow.dag_processing.dagbag import DagBag

    from pipeline.names import TRAIN_QUEUE_ENV

    saved = os.environ.pop(TRAIN_QUEUE_ENV, None)
    try:
        return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    finally:
        if saved is not None:
            os.environ[TRAIN_QUEUE_ENV] = saved


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == BUILT_IN_DAGS | BATCH_DAGS


def test_tags_retries_docs_and_schedule(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert "rnnflow" in dag.tags, dag_id
        assert dag.doc_md and ("#### Params" in dag.doc_md or dag_id in BATCH_DAGS), dag_id
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
    assert set(dag.params.keys()) == set(names.DAG_PARAM_FIELDS) | {names.OVERRIDES_PARAM, names.RESUME_PARAM}
    assert dag.get_task("ensemble").upstream_task_ids >= {"evaluate", "preprocess", "start_run"}
    assert dag.get_task("register").upstream_task_ids >= {"ensemble", "preprocess", "start_run"}
    # What the Airflow UI shows: readable names, a doc on every task, mapped tasks named by architecture.
    for task in dag.tasks:
        assert task.task_display_name != task.task_id and task.task_display_name[0].isupper(), task.task_id
        assert task.doc_md and len(task.doc_md) > 40, f"{task.task_id} has no doc"
    assert dag.get_task("train").map_index_template == "{{ arch }}"
    # The search: trials mapped over slots, its best values into every train task, even with no trials.
    assert type(dag.get_task("tune_trial")).__name__.endswith("MappedOperator")
    assert dag.get_task("tune_trial").map_index_template == "{{ slot }}"
    assert dag.get_task("tune_best").upstream_task_ids >= {"tune_trial", "preprocess"}
    assert dag.get_task("tune_best").trigger_rule == "none_failed"
    assert "tune_best" in dag.get_task("train").upstream_task_ids


@pytest.mark.parametrize("dag_id", sorted(BUILT_IN_DAGS))
def test_a_promotion_announces_the_champion_and_batch_scoring_listens(dagbag, dag_id):
    from pipeline.config import load_config

    training, batch = dagbag.dags[dag_id], dagbag.dags[f"{dag_id}_batch"]
    config = load_config(next(name for name, d in _pipelines().items() if d == dag_id))
    announce = training.get_task("announce_champion")
    assert announce.upstream_task_ids == {"register"}
    assert [asset.uri for asset in announce.outlets] == [f"mlflow-registry://{config.registry.model_name}/champion"]
    inbox, outbox = config.batch_dirs()
    assert type(batch.timetable).__name__ == "AssetOrTimeSchedule"
    assert {asset.uri for asset in batch.timetable.asset_condition.objects} == {
        f"mlflow-registry://{config.registry.model_name}/champion", inbox.resolve().as_uri()}
    assert {t.task_id for t in batch.tasks} == {"find_pending", "score"}
    assert type(batch.get_task("score")).__name__.endswith("MappedOperator")
    assert [asset.uri for asset in batch.get_task("score").outlets] == [outbox.resolve().as_uri()]


def _pipelines() -> dict[str, str]:
    from pipeline.config import discover_pipelines, load_config

    return {name: load_config(name).dag_id for name in discover_pipelines()[0]}


def test_schedules_come_from_the_pipeline_files(dagbag):
    assert dagbag.dags["nsmc_sentiment"].schedule == "@weekly"
    assert dagbag.dags["sms_spam"].schedule is None  # no download: triggered with a source


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


def test_without_a_queue_setting_every_task_uses_the_default_queue(dagbag):
    for dag in dagbag.dags.values():
        assert {task.queue for task in dag.tasks} == {"default"}, dag.dag_id


# One fresh interpreter (parsing imports Airflow: several seconds each) checks how a dag-processor
# with the distributed settings sees the DAG file: the user's pipelines folder, the gpu queue for
# training only, and no heavy module imported by parsing.
PARSE_AS_A_DAG_PROCESSOR = """
import glob, json, runpy, sys
for path in sorted(glob.glob(sys.argv[1] + "/*.py")):
    try:
        runpy.run_path(path)
    except ValueError:
        pass  # rnnflow_pipeline_errors.py reports the broken files: checked through the DagBag below
heavy = sorted(m for m in ("tensorflow", "keras", "mlflow", "pandas", "konlpy", "sklearn") if m in sys.modules)
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"heavy": heavy, "errors": {str(k): str(v) for k, v in bag.import_errors.items()},
                  "dags": sorted(bag.dags), "reviews_tags": sorted(bag.dags["reviews"].tags),
                  "inbox_schedule": type(bag.dags["inbox"].timetable).__name__,
                  "inbox_assets": [asset.uri for asset in bag.dags["inbox"].schedule],
                  "broken_doc": bag.dags["rnnflow_broken_pipeline_files"].doc_md,
                  "warnings": [w for ws in bag.captured_warnings.values() for w in ws],
                  "queues": {d: {t.task_id: t.queue for t in dag.tasks} for d, dag in bag.dags.items()}}))
"""


def test_a_dag_processor_with_the_distributed_settings(tmp_path):
    import json
    import os

    (tmp_path / "reviews.yaml").write_text(
        "dag: {schedule: '0 3 * * 1', tags: [reviews]}\ncorpus: {name: nsmc}\n", encoding="utf-8")
    (tmp_path / "inbox.yaml").write_text(
        "dag: {schedule: {assets: ['file:///srv/inbox/reviews.csv']}}\n"
        "corpus: {name: table, source: /srv/inbox/reviews.csv, text_column: review, label_column: label}\n",
        encoding="utf-8")
    # Broken files: each is reported, naming the file and the field; the other pipelines still load.
    (tmp_path / "broken.yaml").write_text("corpus: {name: table, text_column: review}\n", encoding="utf-8")
    (tmp_path / "typo.yaml").write_text("corpus: {name: nsmc}\ntrain: {epochz: 3}\n", encoding="utf-8")
    env = {**os.environ, "RNNFLOW_PIPELINES": str(tmp_path), "RNNFLOW_TRAIN_QUEUE": "gpu"}
    result = subprocess.run([sys.executable, "-c", PARSE_AS_A_DAG_PROCESSOR, str(PROJECT_ROOT / "dags")],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    assert parsed["heavy"] == []
    # Broken files are an import error of dags/rnnflow_pipeline_errors.py only (naming file and field),
    # a stand-in DAG and parse warnings: the pipelines' file has no import error, so Airflow does not
    # mark its DAGs stale and every other pipeline keeps its schedule.
    [(errored, error)] = parsed["errors"].items()
    assert errored.endswith("rnnflow_pipeline_errors.py")
    assert "2 rnnflow pipeline file(s) could not be loaded" in error
    assert f"{tmp_path / 'broken.yaml'} is invalid: corpus.label_column: required field missing" in error
    assert f"{tmp_path / 'typo.yaml'} is invalid: train.epochz: unknown field" in error
    for problem in (f"{tmp_path / 'broken.yaml'} is invalid: corpus.label_column: required field missing",
                    f"{tmp_path / 'typo.yaml'} is invalid: train.epochz: unknown field"):
        assert problem in parsed["broken_doc"]
        assert any(problem.replace("   ", "\n  ") in warning for warning in parsed["warnings"])
    training = ["aihub_translation", "imdb_sentiment", "inbox", "nsmc_sentiment", "reuters_topics", "reviews",
                "sms_spam"]
    assert parsed["dags"] == sorted(training + [f"{d}_batch" for d in training] + ["rnnflow_broken_pipeline_files"])
    assert parsed["inbox_schedule"] == "AssetTriggeredTimetable"
    assert parsed["inbox_assets"] == ["file:///srv/inbox/reviews.csv"]
    assert parsed["reviews_tags"] == ["classification", "reviews", "rnnflow"]
    for dag_id, dag_queues in parsed["queues"].items():
        if dag_id == "rnnflow_broken_pipeline_files" or dag_id.endswith("_batch"):
            assert set(dag_queues.values()) == {"default"}
            continue
        assert {dag_queues[task] for task in TRAINING_TASKS} == {"gpu"}
        assert {queue for task, queue in dag_queues.items() if task not in TRAINING_TASKS} == {"default"}
