"""What a person sees while a pipeline runs: progress on the terminal, every other log in a file,
then the models' figures as a table (or one JSON line)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from pipeline import progress
from pipeline.cli.airflow_runs import RunFailed
from pipeline.errors import BadInput
from pipeline.names import TEST_METRIC_PREFIX
from pipeline.paths import airflow_home


@contextlib.contextmanager
def console_and_log(log_path: Path, verbose: bool, show_progress: bool):
    """Progress lines go to the terminal; Airflow's, TensorFlow's and MLflow's logs (file
    descriptors 1 and 2, so C++ logs too) go to ``log_path`` unless ``verbose``."""
    console = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8")
    progress.attach(console if show_progress else None)
    if verbose:
        try:
            yield console
        finally:
            progress.attach(None)
            console.close()
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    try:
        yield console
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log_fd):
            os.close(fd)
        progress.attach(None)
        console.close()


def run_log_path(pipeline: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return airflow_home() / "logs" / "rnnflow-run" / f"{Path(pipeline).stem}-{stamp}.log"


def command_log_path(command: str) -> Path:
    """Where a command other than a run keeps the traceback of a fault."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return airflow_home() / "logs" / "rnnflow-cli" / f"{command}-{stamp}.log"


def summary_table(summary: dict) -> str:
    """The run's models and their test figures as a fixed-width table, then the registry decision."""
    models = summary.get("models", {})
    metrics = sorted({key for figures in models.values() for key in figures
                      if key.startswith(TEST_METRIC_PREFIX) and "per_second" not in key})
    columns = ["model", *[key.removeprefix(TEST_METRIC_PREFIX) for key in metrics], "train s", "epochs", "params"]
    rows = [[arch, *[f"{figures.get(key, float('nan')):.4f}" for key in metrics],
             f"{figures.get('train_seconds', 0):.1f}", str(figures.get("epochs_run", "")),
             f"{figures.get('param_count', 0):,}"]
            for arch, figures in models.items()]
    widths = [max(len(str(cell)) for cell in column) for column in zip(columns, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) for row in [columns, *rows]]
    registered = summary.get("registered", {})
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"registry: {registered.get('model_name')} version {registered.get('version')} "
                 f"({registered.get('arch')}) -> @{registered.get('alias')}: {registered.get('reason')}")
    search = summary.get("tune")
    if search:
        counts = ", ".join(f"{count} {state}" for state, count in search["trials"].items() if count)
        best = (f"best trial {search['best_trial']} (val_loss {search['best_val_loss']:.4f}): "
                + ", ".join(f"{key}={_short_number(value)}" for key, value in search["best"].items())
                if search.get("best_val_loss") is not None else "no trial completed")
        lines.append(f"tune: {sum(search['trials'].values())} trial(s) ({counts}); {best}")
    lines.append(f"rows {summary.get('rows')} · wall {summary.get('wall_seconds')} s · "
                 f"MLflow parent run {summary.get('parent_run_id')}")
    return "\n".join(lines)


def _short_number(text: str) -> str:
    """A logged param's value, a float one to 4 significant digits."""
    try:
        value = float(text)
    except ValueError:
        return text
    return text if value.is_integer() and "." not in text else f"{value:.4g}"


def run_command(pipeline: str, produce: Callable[[], dict], as_json: bool, verbose: bool) -> int:
    """``rnnflow run`` and ``demo``: progress on the terminal, logs in a file, then the table (or
    the JSON line). ``produce()`` runs the pipeline and returns its summary."""
    log_path = run_log_path(pipeline)
    try:
        with console_and_log(log_path, verbose, show_progress=not as_json):
            if not verbose:
                progress.line(f"rnnflow: logs in {log_path} (--verbose shows them here)")
            summary = produce()
    except RunFailed as exc:
        print(f"rnnflow: error: {exc}", file=sys.stderr)
        if not verbose:
            print(f"rnnflow: the full log is {log_path}", file=sys.stderr)
        return 2 if exc.bad_input else 1
    except Exception as exc:
        if isinstance(exc, BadInput | FileNotFoundError | FileExistsError):
            raise  # main() words these as one line, exit 2
        # A fault of rnnflow or its stack, not of the user's input: one line, the traceback in the log.
        with open(log_path, "a", encoding="utf-8") as log_file:
            traceback.print_exc(file=log_file)
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"rnnflow: error: {type(exc).__name__}: {first_line}", file=sys.stderr)
        print(f"rnnflow: the traceback is in {log_path}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(summary_table(summary))
    for row in summary.get("champion_predictions", []):
        print(f"  {row['label']:<9} {row['probability']:.3f}  {row['text']}")
    return 0
