"""What a person running ``rnnflow run`` sees while waiting: one line per stage with its elapsed
time and outcome, and progress bars for tokenizing and for training epochs.

The CLI ``attach``es a console stream (its own copy of the terminal, taken before Airflow's,
TensorFlow's and MLflow's logs are sent to a log file). Nothing is attached in an Airflow worker
or a test: then every call here does nothing, and the task logs hold what happened.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO

_console: TextIO | None = None
NAME_WIDTH = 22


def attach(stream: TextIO | None) -> None:
    global _console
    _console = stream


def attached() -> bool:
    return _console is not None


def line(text: str) -> None:
    if _console is not None:
        print(text, file=_console, flush=True)


@contextlib.contextmanager
def stage(name: str, note: Callable[[object], str] | None = None) -> Iterator[dict]:
    """One line when the stage ends: name, elapsed seconds, and ``note(result)`` (the caller puts
    the stage's result in the yielded dict under "result"), or FAILED with the error's first line."""
    holder: dict = {}
    start = time.perf_counter()
    try:
        yield holder
    except BaseException as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        # Airflow's skip (a search slot past its time budget) is an outcome, not a failure; matched by
        # name because this module imports nothing of Airflow.
        outcome = "skipped" if type(exc).__name__ == "AirflowSkipException" else "FAILED"
        line(f"  {name:<{NAME_WIDTH}} {time.perf_counter() - start:7.1f} s  {outcome}: {reason[:200]}")
        raise
    text = ""
    if note is not None and "result" in holder:
        try:
            text = note(holder["result"])
        except Exception:  # a note is decoration: it never fails a stage
            text = ""
    line(f"  {name:<{NAME_WIDTH}} {time.perf_counter() - start:7.1f} s  {text}".rstrip())


def bar(total: int | None, desc: str, unit: str = "it"):
    """A tqdm bar on the console (disabled, and free, when no terminal is attached)."""
    from tqdm import tqdm

    # Only on a terminal: in a file or a CI log a bar is a trail of carriage returns, and the
    # stage's own line says how long it took.
    interactive = _console is not None and getattr(_console, "isatty", lambda: False)()
    return tqdm(total=total, desc=f"  {desc}", unit=unit, file=_console or sys.stderr, leave=False,
                disable=not interactive, dynamic_ncols=True, mininterval=0.5)


def epoch_callback(arch: str, epochs: int):
    """A Keras callback that shows training as a bar of epochs with the latest validation figures."""
    import keras

    class EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = bar(epochs, f"train {arch}", unit="epoch")

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            shown = {key: f"{value:.4f}" for key, value in logs.items()
                     if key.startswith("val_") and isinstance(value, (int, float))}
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return EpochBar()
