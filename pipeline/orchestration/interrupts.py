"""Ctrl-C and SIGTERM stop ``rnnflow run`` at once.

``dag.test()`` runs every task in the CLI's own process, and Airflow's task runner replaces the
SIGTERM handler for each task (with one that only calls the operator's ``on_kill``) and never puts
the previous one back: from the first task on, SIGTERM was ignored. The CLI registers its stop
handler here, and every task entry point puts it back (``pipeline.orchestration.tasks.pipeline_task``).
"""

from __future__ import annotations

import signal
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_handler: Callable | None = None


def on_stop(handler: Callable) -> None:
    """``handler(signum, frame)`` for SIGINT and SIGTERM, kept through every task of this process."""
    global _handler
    _handler = handler
    keep_stop_handler()


def keep_stop_handler() -> None:
    if _handler is None:
        return
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is not _handler:
            signal.signal(signum, _handler)
