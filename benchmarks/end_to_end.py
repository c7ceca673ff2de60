"""End-to-end wall time of one pipeline run from a fresh state root, as a user first meets it.

    .venv/bin/python benchmarks/end_to_end.py [--pipeline nsmc] [--source ../shared/corpora/nsmc]
        [--repeats 1] [--set key=value ...] [--target-seconds 150]

Each repeat runs ``rnnflow run <pipeline> --source <source> --json`` in a new, empty
``RNNFLOW_HOME`` (no cached tokens, word vectors or features; new Airflow and MLflow stores), so
every repeat pays for everything a first run does. Prints per repeat: the run's wall time (its JSON
line's ``wall_seconds``, from the DAG run's start to its end: the figure the NSMC target is about),
the process's wall time (with imports and creating the stores), each task's seconds from the
Airflow metadata DB, the peak resident memory of the run's process, and each model's training
seconds, epochs and test score; then the medians and a JSON line of every figure. The default
source is the shared NSMC folder, since the default corpus cannot be downloaded here.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "corpora" / "nsmc"


def task_seconds(airflow_db: Path, dag_id: str) -> dict[str, float]:
    """Each task instance's seconds in the run's Airflow metadata DB (mapped tasks summed)."""
    with sqlite3.connect(airflow_db) as db:
        rows = db.execute("select task_id, (julianday(end_date) - julianday(start_date)) * 86400 "
                          "from task_instance where dag_id = ? and end_date is not null order by start_date",
                          (dag_id,)).fetchall()
    seconds: dict[str, float] = {}
    for task_id, duration in rows:
        seconds[task_id] = round(seconds.get(task_id, 0.0) + duration, 1)
    return seconds


def one_run(pipeline: str, source: Path, overrides: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="rnnflow-e2e-") as home:
        env = {**os.environ, "RNNFLOW_HOME": home}
        for inherited in ("AIRFLOW_HOME", "MLFLOW_TRACKING_URI", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
            env.pop(inherited, None)  # the fresh home's own stores, not the caller's
        command = [sys.executable, "-m", "pipeline.cli", "run", pipeline, "--source", str(source), "--json",
                   *[part for item in overrides for part in ("--set", item)]]
        stdout, stderr = Path(home) / "stdout", Path(home) / "stderr"
        started = time.perf_counter()
        with stdout.open("w") as out, stderr.open("w") as err:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
            # wait4, not wait: this one process's resource usage (peak RSS in KiB on Linux).
            _, status, usage = os.wait4(process.pid, 0)
        process_seconds = time.perf_counter() - started
        exit_code = os.waitstatus_to_exitcode(status)
        if exit_code != 0:
            raise SystemExit(f"run failed (exit {exit_code}): {stderr.read_text().strip()[-2000:]}")
        summary = json.loads(stdout.read_text().strip().splitlines()[-1])
        tasks = task_seconds(Path(home) / ".airflow" / "airflow.db", summary["dag_id"])
    models = {name: {key: figures.get(key) for key in ("train_seconds", "epochs_run")}
              | {key: value for key, value in figures.items() if key in ("test_accuracy", "test_bleu", "test_f1")}
              for name, figures in summary.get("models", {}).items()}
    return {"wall_seconds": summary["wall_seconds"], "process_seconds": round(process_seconds, 1),
            "peak_rss_mib": round(usage.ru_maxrss / 1024), "tasks": tasks, "models": models}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", default="nsmc")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--target-seconds", type=float, help="print whether the median run wall time is within it")
    args = parser.parse_args()
    if not args.source.exists():
        raise SystemExit(f"--source {args.source}: no such file or folder")

    runs = []
    for repeat in range(args.repeats):
        run = one_run(args.pipeline, args.source.resolve(), args.overrides)
        runs.append(run)
        tasks = ", ".join(f"{task} {seconds}" for task, seconds in run["tasks"].items() if seconds >= 0.5)
        print(f"repeat {repeat}: run wall {run['wall_seconds']} s, process {run['process_seconds']} s, "
              f"peak RSS {run['peak_rss_mib']:,} MiB", flush=True)
        print(f"  tasks (s): {tasks}")
        for name, figures in run["models"].items():
            print(f"  {name}: " + ", ".join(f"{key} {value}" for key, value in figures.items()))

    medians = {key: round(statistics.median(run[key] for run in runs), 1)
               for key in ("wall_seconds", "process_seconds")}
    print(f"median of {len(runs)}: run wall {medians['wall_seconds']} s, process {medians['process_seconds']} s")
    summary = {"pipeline": args.pipeline, "source": str(args.source), "overrides": args.overrides,
               "repeats": len(runs), "medians": medians, "runs": runs}
    if args.target_seconds is not None:
        summary["target_seconds"] = args.target_seconds
        summary["within_target"] = medians["wall_seconds"] <= args.target_seconds
        print(f"target {args.target_seconds:g} s: {'met' if summary['within_target'] else 'NOT met'}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
