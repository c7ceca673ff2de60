"""The DAG factory: every pipeline file becomes one training DAG of the same shape.

start_run -> ingest -> preprocess -> tune_trial (mapped, one per ``tune.trials`` slot; none by default)
-> tune_best -> train (one mapped task per architecture) -> evaluate (mapped) -> ensemble
-> register/promote -> announce_champion (an asset event, only when a new champion was promoted).
With ``batch.enabled``, a second DAG, ``<dag_id>_batch``, scores the pipeline's inbox with the
champion: on that event, on an inbox asset event, and on its polling schedule.

Each task calls one function of ``pipeline.orchestration.tasks`` with small references
through XCom. Building the DAGs reads and validates the pipeline files and imports only
``airflow.sdk`` besides: parsing stays fast and light.
"""

from __future__ import annotations

import logging
import os
import warnings
from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, dag, task

from pipeline import names
from pipeline.config import (
    AssetSchedule,
    ConfigError,
    PipelineConfig,
    architectures_for_kind,
    discover_pipelines,
    load_config,
)
from pipeline.errors import BadInput

log = logging.getLogger(__name__)

PARAMS_DOC = """
#### Params
| param | sets | example |
|---|---|---|
| `source` | `corpus.source`: a local file or folder; empty uses the configured source or download | `/data/nsmc` |
| `corpus` | `corpus.name`: the reader ({readers}) | `{reader}` |
| `tokenizer` | `text.tokenizer` ({tokenizers}) | `{tokenizer}` |
| `epochs` | `train.epochs` | `3` |
| `models` | `train.models`: architectures to train side by side ({architectures}) | `{models}` |
| `overrides` | any config field, `key=value` with a YAML value | `["text.min_freq=3"]` |
| `resume` | an interrupted DAG run to continue with its frozen config | `manual__2026-11-30T08:40:02+00:00` |
"""


def _mark_run_failed(context) -> None:
    from pipeline.orchestration import tasks

    tasks.mark_run_failed(context)


def train_queue() -> dict[str, str]:
    """Training tasks go to this Celery queue (the distributed deployment sets it to "gpu", where
    the GPU workers listen); unset, they share Airflow's default queue with everything else."""
    queue = os.environ.get(names.TRAIN_QUEUE_ENV, "").strip()
    return {"queue": queue} if queue else {}


def dag_params(config: PipelineConfig) -> dict[str, Param]:
    """The trigger form: one param per ``names.DAG_PARAM_FIELDS`` entry, plus ``overrides``."""
    from pipeline.config.reference import field_description
    from pipeline.corpora import reader_names

    fitting = architectures_for_kind(config.kind)
    params = {
        "source": Param(None, type=["null", "string"], description=field_description("corpus.source")),
        "corpus": Param(None, type=["null", "string"], enum=[None, *reader_names()],
                        description=f"{field_description('corpus.name')} Another reader keeps only the corpus "
                                    "fields both share."),
        "tokenizer": Param(None, type=["null", "string"], enum=[None, *names.TOKENIZERS],
                           description=field_description("text.tokenizer")),
        "epochs": Param(None, type=["null", "integer"], minimum=1, description=field_description("train.epochs")),
        "models": Param(None, type=["null", "array"], items={"type": "string", "enum": fitting},
                        description=field_description("train.models")),
        names.OVERRIDES_PARAM: Param([], type="array", items={"type": "string"},
                                     description="Config overrides key=value, e.g. [\"text.min_freq=3\"] "
                                                 "(every field: docs/configuration.md)."),
        names.RESUME_PARAM: Param(None, type=["null", "string"],
                                  description="The id of an interrupted DAG run to continue from its checkpoints, "
                                              "with its own frozen config."),
    }
    missing = set(names.DAG_PARAM_FIELDS) - set(params)
    if missing:
        raise RuntimeError(f"DAG params lack {sorted(missing)} (pipeline.names.DAG_PARAM_FIELDS)")
    return params


def dag_doc(config: PipelineConfig) -> str:
    from pipeline.corpora import reader_names

    fitting = architectures_for_kind(config.kind)
    header = (f"### {config.pipeline}: {config.kind}\n\n{config.dag.description.strip()}\n\n"
              f"Corpus `{config.corpus.name}`, models {', '.join(f'`{m}`' for m in config.train.models)}; the best "
              f"by test `{config.registry.metric}` is registered as `{config.registry.model_name}`.\n")
    return header + PARAMS_DOC.format(readers=", ".join(reader_names()), reader=config.corpus.name,
                                      tokenizers=", ".join(names.TOKENIZERS), tokenizer=config.text.tokenizer,
                                      architectures=", ".join(fitting), models=list(config.train.models))


def dag_schedule(config: PipelineConfig):
    """The ``dag.schedule`` as Airflow takes it: a cron string or preset, assets, or None."""
    schedule = config.dag.schedule
    if isinstance(schedule, AssetSchedule):
        from airflow.sdk import Asset

        assets = [Asset(uri) for uri in schedule.assets]
        if len(assets) == 1:
            return assets
        combined = assets[0]
        for asset in assets[1:]:
            combined = combined & asset
        return combined
    return schedule


def champion_asset(config: PipelineConfig):
    """Updated when the pipeline's registered model gets a new champion (a promotion, not every run)."""
    from airflow.sdk import Asset

    name = config.registry.model_name
    return Asset(name=f"rnnflow.{name}.champion", uri=f"mlflow-registry://{name}/champion", group="model")


def inbox_asset(config: PipelineConfig):
    """The batch inbox: a drop reported as an event on it (Airflow's API) is scored at once."""
    from airflow.sdk import Asset

    inbox, _ = config.batch_dirs()
    return Asset(name=f"rnnflow.{config.pipeline}.inbox", uri=inbox.resolve().as_uri())


def predictions_asset(config: PipelineConfig):
    from airflow.sdk import Asset

    _, outbox = config.batch_dirs()
    return Asset(name=f"rnnflow.{config.pipeline}.predictions", uri=outbox.resolve().as_uri())


def batch_schedule(config: PipelineConfig):
    """A new champion or an inbox event; also every ``batch.schedule`` tick, which polls the inbox."""
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    assets = champion_asset(config) | inbox_asset(config)
    if config.batch.schedule is None:
        return assets
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(config.batch.schedule, timezone="UTC"), assets=assets)


def training_dag(config: PipelineConfig, source: str | None = None) -> DAG:
    """A DAG that trains the pipeline's architectures side by side and promotes the best.

    ``source`` is how its tasks load the config again: the pipeline's name (the default) or, for
    a file outside the pipelines folders, its path."""
    pipeline = source or config.pipeline

    @dag(
        dag_id=config.dag_id,
        schedule=dag_schedule(config),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=["rnnflow", config.kind, *config.dag.tags],
        doc_md=dag_doc(config),
        default_args={"owner": "rnnflow", "retries": 2, "retry_delay": timedelta(minutes=2),
                      "on_failure_callback": _mark_run_failed},
        params=dag_params(config),
    )
    def pipeline_dag():
        @task(task_display_name="Start run")
        def start_run(params=None, dag=None, run_id=None) -> dict:
            """Resolves the config (the pipeline file, then this run's params and `overrides`), checks
            trigger overrides against the allowlist, freezes the config in the run's folder and opens the
            parent MLflow run (named after the pipeline and the start time)."""
            from pipeline.orchestration import tasks

            return tasks.start_run(pipeline, dict(params or {}), dag.dag_id, run_id)

        @task(task_display_name="Architectures")
        def architectures(run: dict) -> list[str]:
            """The models to train side by side (`train.models` or the `models` param): one mapped train
            and evaluate task each."""
            from pipeline.results import RunReference

            return RunReference.from_xcom(run).models

        @task(task_display_name="Ingest and validate")
        def ingest(run: dict) -> dict:
            """Reads the corpus (download with checksums, or `source`), splits it, writes the canonical
            table and checks the data (class balance, overlap between splits, drift from the champion's
            data): a check at its error limit fails the run here, naming the file and figure."""
            from pipeline.orchestration import tasks

            return tasks.ingest(run)

        @task(task_display_name="Tokenize and build features")
        def preprocess(run: dict, ingested: dict) -> dict:
            """Cleans and tokenizes the text (cached by data and tokenizer), fits the vocabulary on the
            train split only and writes the padded id arrays every model trains on."""
            from pipeline.orchestration import tasks

            return tasks.preprocess(run, ingested)

        @task(task_display_name="Search slots")
        def tune_slots(run: dict) -> list[int]:
            """One slot per `tune.trials` (none by default): one mapped trial task each."""
            from pipeline.results import RunReference

            return RunReference.from_xcom(run).tune_slots

        # Mapped tasks do not take their doc from the docstring: doc_md says it.
        @task(execution_timeout=timedelta(hours=6), task_display_name="Tune trial", map_index_template="{{ slot }}",
              max_active_tis_per_dag=config.tune.parallel,
              doc_md="One trial of the hyperparameter search (Optuna): values drawn from `tune.space`, trained in "
                     "a nested MLflow run, pruned on validation loss; a retried slot reuses its finished trial. "
                     "Skipped once `tune.timeout_minutes` is spent.", **train_queue())
        def tune_trial(run: dict, prepared: dict, slot: int) -> dict:
            from airflow.sdk import get_current_context

            from pipeline.orchestration import tasks

            get_current_context()["slot"] = slot  # rendered by map_index_template
            return tasks.tune_trial(run, prepared, slot)

        # Runs after a search (its skipped slots included) and without one (no slots: all skipped).
        @task(task_display_name="Best trial", trigger_rule="none_failed")
        def tune_best(run: dict, prepared: dict) -> dict:
            """The search's best values, for the final training of the tuned architecture; its
            trials table and history plot on the parent run. Empty without a search."""
            from pipeline.orchestration import tasks

            return tasks.tune_best(run, prepared)

        @task(execution_timeout=timedelta(hours=6), task_display_name="Train", map_index_template="{{ arch }}",
              doc_md="Trains one architecture in its own child MLflow run, from its last checkpoint when the "
                     "task is retried; the map index names the architecture. The architecture the search "
                     "tuned trains with its best trial's values.", **train_queue())
        def train(run: dict, prepared: dict, tuned: dict, arch: str) -> dict:
            from airflow.sdk import get_current_context

            from pipeline.orchestration import tasks

            get_current_context()["arch"] = arch  # rendered by map_index_template
            return tasks.train(run, prepared, arch, tuned)

        @task(task_display_name="Evaluate", map_index_template="{{ arch }}",
              doc_md="Scores one trained model on the test split every model shares (metrics, confusion "
                     "matrix or BLEU/chrF, attention maps) and records its test predictions for the promotion gate.")
        def evaluate(run: dict, prepared: dict, trained: dict) -> dict:
            from airflow.sdk import get_current_context

            from pipeline.orchestration import tasks

            get_current_context()["arch"] = trained["arch"]  # rendered by map_index_template
            return tasks.evaluate(run, prepared, trained)

        @task(task_display_name="Ensemble")
        def ensemble(run: dict, prepared: dict, evaluations: list[dict]) -> list[dict]:
            """Classification with two models or more: the subset of the run's models whose averaged
            probabilities score best on the validation split, scored on the same test split and logged as
            one more child run (`ensemble`) that competes for registration like any model."""
            from pipeline.orchestration import tasks

            return tasks.ensemble(run, prepared, evaluations)

        # One at a time per DAG, on any worker: promotion reads and moves `@champion` (registry.locks).
        @task(task_display_name="Register and promote", max_active_tis_per_dag=1)
        def register(run: dict, prepared: dict, evaluations: list[dict]) -> dict:
            """Registers the best model as a raw-text pyfunc version and gives it `@champion` only when a
            paired significance test on the same test split says it beats the champion (else
            `@challenger`); writes the comparison and the decision on the parent MLflow run."""
            from pipeline.orchestration import tasks

            return tasks.register(run, prepared, evaluations)

        @task(outlets=[champion_asset(config)], task_display_name="Announce champion")
        def announce_champion(registered: dict) -> str:
            """Succeeds, and so updates the champion asset, only when this run promoted a champion."""
            from airflow.sdk.exceptions import AirflowSkipException

            if registered["alias"] != names.CHAMPION:
                raise AirflowSkipException(f"version {registered['version']} is @{registered['alias']}: "
                                           f"the champion did not change")
            return f"{registered['model_name']} version {registered['version']} is @champion"

        run = start_run()
        prepared = preprocess(run, ingest(run))
        trials = tune_trial.partial(run=run, prepared=prepared).expand(slot=tune_slots(run))
        tuned = tune_best(run, prepared)
        trials >> tuned  # the trials' results are in the study, not in XCom
        trained = train.partial(run=run, prepared=prepared, tuned=tuned).expand(arch=architectures(run))
        evaluated = evaluate.partial(run=run, prepared=prepared).expand(trained=trained)
        announce_champion(register(run, prepared, ensemble(run, prepared, evaluated)))

    return pipeline_dag()


def batch_dag(config: PipelineConfig, source: str | None = None) -> DAG:
    """Scores every new file in the pipeline's inbox with the champion (``pipeline.serving.batch``)."""
    pipeline = source or config.pipeline
    inbox, outbox = config.batch_dirs()

    @dag(
        dag_id=f"{config.dag_id}_batch",
        schedule=batch_schedule(config),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=["rnnflow", "batch", config.kind, *config.dag.tags],
        doc_md=(f"### {config.pipeline}: batch scoring\n\nScores each CSV, TSV, JSONL, Parquet or Excel file "
                f"dropped in `{inbox}` (text column `{config.batch.text_column}`) with "
                f"`{config.registry.model_name}@{config.batch.alias}` into `{outbox}`, one Parquet file per input "
                f"and model version. Runs on a new champion, on an event on the inbox asset, and "
                f"{'on ' + repr(config.batch.schedule) if config.batch.schedule else 'on no schedule'}. "
                f"Copy files in under a hidden or `.part` name and rename them: those are left alone. "
                f"A file that cannot be scored moves to `rejected/` with the reason beside it."),
        default_args={"owner": "rnnflow", "retries": 1, "retry_delay": timedelta(minutes=1)},
    )
    def scoring_dag():
        @task
        def find_pending() -> list[dict]:
            from pipeline.orchestration import tasks

            return tasks.batch_pending(pipeline)

        @task(outlets=[predictions_asset(config)], map_index_template="{{ task.op_kwargs['item']['input'] }}")
        def score(item: dict, dag=None, run_id=None) -> dict:
            from pipeline.orchestration import tasks

            return tasks.batch_score(pipeline, item, dag.dag_id, run_id)

        score.expand(item=find_pending())

    return scoring_dag()


class PipelineFileError(BadInput, ValueError):
    """A pipeline file that cannot become a DAG; the message names the file and the field."""


BROKEN_PIPELINES_DAG_ID = "rnnflow_broken_pipeline_files"


def broken_pipelines_dag(problems: list[str]) -> DAG:
    """Stands for the pipeline files that failed to load, in the DAG list and the UI: its
    description names the first file and field, its docs list them all, and its one task fails
    with them if triggered. Not an import error on purpose: Airflow marks every DAG of a file with
    an import error stale (airflow/dag_processing/collection.py), so one broken YAML would stop
    every pipeline's schedule, the built-in ones included."""
    message = f"{len(problems)} pipeline file(s) could not be loaded:\n" + "\n".join(problems)

    @dag(dag_id=BROKEN_PIPELINES_DAG_ID, schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         tags=["rnnflow", "broken"], description=problems[0].replace("\n", " ")[:480],
         doc_md="#### Pipeline files that could not be loaded\n\n" + "\n".join(
             f"- `{problem.replace(chr(10), ' ')}`" for problem in problems),
         default_args={"owner": "rnnflow", "retries": 0})
    def broken():
        @task
        def report_broken_pipeline_files():
            raise PipelineFileError(message)

        report_broken_pipeline_files()

    return broken()


def _file_problem(path, exc: Exception) -> str:
    """A pipeline file's load error, naming the file once (config errors already name it)."""
    return str(exc) if str(path) in str(exc) else f"{path}: {exc}"


def pipeline_file_problems() -> list[str]:
    """What is wrong with each pipeline file that cannot become DAGs, naming file and field, found
    without building any DAG (``dags/rnnflow_pipeline_errors.py`` must define none)."""
    files, problems = discover_pipelines()
    owners: dict[str, str] = {}
    for name, path in files.items():
        try:
            config = load_config(name)
        except (ConfigError, ValueError) as exc:
            problems.append(_file_problem(path, exc))
            continue
        ids = [config.dag_id] + ([f"{config.dag_id}_batch"] if config.batch.enabled else [])
        taken = [dag_id for dag_id in ids if dag_id in owners]
        if taken:
            problems.append(f"{path}: DAG id {taken[0]!r} is already used by {owners[taken[0]]}")
            continue
        owners.update({dag_id: str(path) for dag_id in ids})
    return problems


def raise_for_broken_pipelines() -> None:
    """An import error of the calling DAG file naming every broken pipeline file and its field: the
    Airflow UI shows import errors on every page. That file defines no DAG, so Airflow marking its
    DAGs stale stops nothing (the pipelines are defined by ``dags/rnnflow_pipelines.py``)."""
    problems = pipeline_file_problems()
    if problems:
        raise PipelineFileError(f"{len(problems)} rnnflow pipeline file(s) could not be loaded: " + " | ".join(
            problem.replace("\n", " ") for problem in problems))


def pipeline_dags() -> dict[str, DAG]:
    """DAG id -> DAG for every pipeline file (the built-in ones and ``RNNFLOW_PIPELINES``). A file
    that does not load does not stop the others: it is logged, warned about, and listed by the
    ``rnnflow_broken_pipeline_files`` DAG."""
    files, problems = discover_pipelines()
    dags: dict[str, DAG] = {}
    for name, path in files.items():
        try:
            config = load_config(name)
            built = [training_dag(config)] + ([batch_dag(config)] if config.batch.enabled else [])
        except (ConfigError, ValueError) as exc:
            problems.append(_file_problem(path, exc))
            continue
        taken = [one.dag_id for one in built if one.dag_id in dags]
        if taken:
            problems.append(f"{path}: DAG id {taken[0]!r} is already used by another pipeline")
            continue
        dags.update({one.dag_id: one for one in built})
    for problem in problems:
        log.error("pipeline file not loaded: %s", problem)
        warnings.warn(f"rnnflow pipeline file not loaded: {problem}", stacklevel=2)
    if problems:
        dags[BROKEN_PIPELINES_DAG_ID] = broken_pipelines_dag(problems)
    return dags
