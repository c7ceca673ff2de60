"""The training DAG's shape, shared by every pipeline (classifiers and translators alike).

start_run -> ingest -> preprocess -> train (one mapped task per architecture) -> evaluate (mapped)
-> register/promote. Each task calls one function of ``pipeline.tasks`` with small references
through XCom. Building the DAG imports only ``airflow.sdk``: parsing stays fast and light.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

# Training tasks go to this Celery queue (the distributed deployment sets it to "gpu", where the
# GPU workers listen); unset, they share Airflow's default queue with everything else.
TRAIN_QUEUE_ENV = "RNNFLOW_TRAIN_QUEUE"

TOKENIZERS = [None, "mecab", "okt", "komoran", "kkma", "hannanum", "english", "whitespace"]


def _mark_run_failed(context) -> None:
    from pipeline import tasks

    tasks.mark_run_failed(context)


def train_queue() -> dict[str, str]:
    queue = os.environ.get(TRAIN_QUEUE_ENV, "").strip()
    return {"queue": queue} if queue else {}


def common_params(source: Param) -> dict[str, Param]:
    """The params every classifier DAG takes; ``source`` describes the corpus' own local files."""
    return {
        "source": source,
        "tokenizer": Param(None, type=["null", "string"], enum=TOKENIZERS),
        "epochs": Param(None, type=["null", "integer"], minimum=1),
        "models": Param(None, type=["null", "array"], description="Architectures to train, e.g. [\"lstm\", \"tfidf_logreg\"]."),
        "overrides": Param([], type="array", description="Config overrides key=value, e.g. [\"text.min_freq=3\"]."),
    }


def training_dag(dag_id: str, pipeline: str, doc_md: str, tags: list[str], params: dict[str, Param],
                   schedule: str = "@weekly"):
    """A DAG that trains ``pipeline``'s configured architectures side by side and promotes the best.
    The stages dispatch on the config's task (classification or translation)."""

    @dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=["rnnflow", *tags],
        doc_md=doc_md,
        default_args={"owner": "rnnflow", "retries": 2, "retry_delay": timedelta(minutes=2),
                      "on_failure_callback": _mark_run_failed},
        params=params,
    )
    def pipeline_dag():
        @task
        def start_run(params=None, dag=None, run_id=None) -> dict:
            from pipeline import tasks

            return tasks.start_run(pipeline, dict(params or {}), dag.dag_id, run_id)

        @task
        def architectures(run: dict) -> list[str]:
            return run["models"]

        @task
        def ingest(run: dict) -> dict:
            from pipeline import tasks

            return tasks.ingest(run)

        @task
        def preprocess(run: dict, ingested: dict) -> dict:
            from pipeline import tasks

            return tasks.preprocess(run, ingested)

        @task(execution_timeout=timedelta(hours=6), **train_queue())
        def train(run: dict, prepared: dict, arch: str) -> dict:
            from pipeline import tasks

            return tasks.train(run, prepared, arch)

        @task
        def evaluate(run: dict, prepared: dict, trained: dict) -> dict:
            from pipeline import tasks

            return tasks.evaluate(run, prepared, trained)

        @task
        def register(run: dict, prepared: dict, evaluations: list[dict]) -> dict:
            from pipeline import tasks

            return tasks.register(run, prepared, evaluations)

        run = start_run()
        prepared = preprocess(run, ingest(run))
        trained = train.partial(run=run, prepared=prepared).expand(arch=architectures(run))
        evaluated = evaluate.partial(run=run, prepared=prepared).expand(trained=trained)
        register(run, prepared, evaluated)

    return pipeline_dag()
