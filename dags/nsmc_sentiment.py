"""
### NSMC sentiment: weekly retrain of the Korean movie-review classifier

ingest -> preprocess -> train (one mapped task per architecture) -> evaluate -> register/promote.

Each task calls one function of `pipeline.tasks` with small references through XCom; the run's
config is resolved once (`start_run`), frozen to a file and logged to MLflow. The best model by
`registry.metric` is registered as `nsmc-sentiment` and takes `@champion` only if it beats it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

PIPELINE = "nsmc"


def _mark_run_failed(context) -> None:
    from pipeline import tasks

    tasks.mark_run_failed(context)


@dag(
    dag_id="nsmc_sentiment",
    schedule="@weekly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["rnnflow", "nsmc", "sentiment", "korean"],
    doc_md=__doc__,
    default_args={"owner": "rnnflow", "retries": 2, "retry_delay": timedelta(minutes=2),
                  "on_failure_callback": _mark_run_failed},
    params={
        "source": Param(None, type=["null", "string"], description="Local folder with ratings_train.txt/ratings_test.txt; empty downloads NSMC."),
        "tokenizer": Param(None, type=["null", "string"], enum=[None, "mecab", "okt", "komoran", "kkma", "hannanum", "whitespace"]),
        "epochs": Param(None, type=["null", "integer"], minimum=1),
        "models": Param(None, type=["null", "array"], description="Architectures to train, e.g. [\"lstm\"]."),
        "overrides": Param([], type="array", description="Config overrides key=value, e.g. [\"text.min_freq=3\"]."),
    },
)
def nsmc_sentiment():
    @task
    def start_run(params=None, dag=None, run_id=None) -> dict:
        from pipeline import tasks

        return tasks.start_run(PIPELINE, dict(params or {}), dag.dag_id, run_id)

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

    @task(execution_timeout=timedelta(hours=6))
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


nsmc_sentiment_dag = nsmc_sentiment()
