"""``rnnflow``: run a pipeline end to end on the embedded default, or query the champion.

    rnnflow run nsmc [--source PATH] [--set key=value ...]
    rnnflow demo
    rnnflow predict nsmc-sentiment TEXT [TEXT ...]
    rnnflow env
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from pipeline.names import CHAMPION
from pipeline.paths import PROJECT_ROOT, airflow_home, local_tracking_uri

log = logging.getLogger("rnnflow")
SAMPLE_SENTENCES = ["이 영화 정말 재밌어요 배우들 연기도 최고", "완전 지루하고 돈 아까운 영화였다",
                    "스토리가 감동적이라 눈물이 났어요", "최악의 결말 다시는 안 본다"]


def configure_environment() -> dict[str, str]:
    """Point Airflow and MLflow at the project's local stores unless the environment says otherwise."""
    home = airflow_home()
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "MLFLOW_TRACKING_URI": local_tracking_uri(),
        # MLflow's model-size and dependency probes are noise for a local run.
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in defaults}


def ensure_airflow_db() -> None:
    """Create or upgrade the Airflow metadata DB, once per installed Airflow version."""
    import importlib.metadata

    marker = airflow_home() / f".rnnflow-db-migrated-{importlib.metadata.version('apache-airflow-core')}"
    # The default store is a file: if it was deleted, the marker alone must not skip the migration.
    external_db = bool(os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"))
    if marker.exists() and (external_db or (airflow_home() / "airflow.db").is_file()):
        return
    airflow_home().mkdir(parents=True, exist_ok=True)
    log.info("initialising the Airflow metadata DB in %s", airflow_home())
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
    marker.touch()


def load_dag(pipeline: str):
    """The DAG that runs ``pipeline`` (a name or a YAML file), built by the same factory the
    scheduler's DAG file uses."""
    from pipeline.config import load_config
    from pipeline.workflow import training_dag

    if Path(pipeline).suffix in (".yaml", ".yml"):
        pipeline = str(Path(pipeline).expanduser().resolve())
    return training_dag(load_config(pipeline), source=pipeline)


def check_corpus_reachable(pipeline: str, overrides: list[str]) -> None:
    """Fail before Airflow starts if the corpus can be neither found nor downloaded."""
    from pipeline.config import load_config
    from pipeline.corpora import corpus_reader
    from pipeline.stages.ingest import resolve_source_files

    config = load_config(pipeline, overrides)
    resolve_source_files(config, corpus_reader(config.corpus.name))


def run_pipeline(pipeline: str, source: str | None, overrides: list[str]) -> dict:
    """Run the pipeline's DAG once with dag.test() and return the run's summary figures."""
    configure_environment()
    if source:
        source = str(Path(source).expanduser().resolve())
        overrides = [f"corpus.source={source}", *overrides]
    check_corpus_reachable(pipeline, overrides)
    ensure_airflow_db()
    dag = load_dag(pipeline)
    started = time.perf_counter()
    dag_run = dag.test(run_conf={"overrides": overrides})
    wall_seconds = time.perf_counter() - started
    state = str(getattr(dag_run.state, "value", dag_run.state))
    if state != "success":
        raise SystemExit(f"DAG run {dag_run.run_id} of {dag.dag_id} ended {state}; see the task logs above")
    summary = read_run_summary(dag.dag_id, dag_run.run_id)
    summary["wall_seconds"] = round(wall_seconds, 1)
    return summary


def read_run_summary(dag_id: str, dag_run_id: str) -> dict:
    from pipeline.lineage import dag_run_key
    from pipeline.tracking import find_run_summary

    return find_run_summary(dag_run_key(dag_id, dag_run_id))


def predict(model_name: str, texts: list[str], alias: str = CHAMPION) -> list[dict]:
    import mlflow.pyfunc

    configure_environment()
    model = mlflow.pyfunc.load_model(f"models:/{model_name}@{alias}")
    predictions = model.predict(texts)
    return [{"text": text, **row} for text, row in zip(texts, predictions.to_dict(orient="records"))]


def main(argv: list[str] | None = None) -> int:
    from pipeline.config import pipeline_files

    parser = argparse.ArgumentParser(prog="rnnflow", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a pipeline's DAG end to end (dag.test) and print its figures")
    run.add_argument("pipeline", help=f"a pipeline's name ({', '.join(pipeline_files())}) or a pipeline YAML file")
    run.add_argument("--source", help="local corpus folder (skips the download)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="config override, e.g. --set train.epochs=3 (repeatable)")
    demo = commands.add_parser("demo", help="the NSMC pipeline end to end; falls back to a generated sample offline")
    demo.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    pred = commands.add_parser("predict", help="predict raw texts with a registered model's @champion")
    pred.add_argument("model_name")
    pred.add_argument("texts", nargs="+")
    pred.add_argument("--alias", default=CHAMPION)
    commands.add_parser("env", help="print the environment that reaches the local Airflow and MLflow stores")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from pipeline.config import ConfigError
    from pipeline.corpora.errors import CorpusUnavailableError

    try:
        if args.command == "env":
            for key, value in configure_environment().items():
                print(f"export {key}={value}")
        elif args.command == "run":
            print(json.dumps(run_pipeline(args.pipeline, args.source, args.overrides), ensure_ascii=False))
        elif args.command == "demo":
            print(json.dumps(run_demo(args.overrides), ensure_ascii=False))
        elif args.command == "predict":
            for row in predict(args.model_name, args.texts, args.alias):
                print(json.dumps(row, ensure_ascii=False))
    except (ConfigError, CorpusUnavailableError) as exc:
        print(f"rnnflow: {exc}", file=sys.stderr)
        return 2
    return 0


def run_demo(overrides: list[str]) -> dict:
    """NSMC end to end; offline, on the generated sample corpus, said loudly."""
    from pipeline.corpora.errors import CorpusUnavailableError
    from pipeline.corpora.sample import write_sample_corpus

    configure_environment()
    try:
        check_corpus_reachable("nsmc", overrides)
        source = None
    except CorpusUnavailableError as exc:
        source = str(write_sample_corpus(PROJECT_ROOT / "data" / "sample" / "nsmc"))
        banner = "!" * 78
        print(f"\n{banner}\nNSMC COULD NOT BE DOWNLOADED: {str(exc).splitlines()[0]}\n"
              f"FALLING BACK TO THE GENERATED SAMPLE CORPUS IN {source}\n"
              f"(template sentences, not real reviews). For the real corpus: "
              f"rnnflow run nsmc --source PATH\n{banner}\n", file=sys.stderr, flush=True)
    summary = run_pipeline("nsmc", source, overrides)
    summary["corpus"] = "generated sample" if source else "NSMC"
    summary["champion_predictions"] = predict(summary["registered"]["model_name"], SAMPLE_SENTENCES)
    return summary


if __name__ == "__main__":
    sys.exit(main())
