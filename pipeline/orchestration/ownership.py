"""Which process runs a DAG run started by ``rnnflow run``, so the next run can tell a DAG run whose
process died (kill -9, a crash, a reboot) from one another ``rnnflow run`` is running right now.

``dag.test()`` runs every task in the CLI's own process. Its first task claims the DAG run: the
process takes an exclusive ``flock`` on a file named after the run and keeps it open for as long
as it lives. The kernel drops the lock when the process dies, however it dies, so a claim nobody
holds is an orphan. A Ctrl-C handler also marks only the DAG runs its own process claimed.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from pipeline.paths import airflow_home, safe_file_name

# Lock path -> open file descriptor, held until the process exits.
_claimed: dict[Path, int] = {}


def claim_path(dag_id: str, dag_run_id: str) -> Path:
    return airflow_home() / "rnnflow-claims" / dag_id / f"{safe_file_name(dag_run_id)}.lock"


def claim(dag_id: str, dag_run_id: str) -> None:
    """This process runs the DAG run (idempotent: a retried task claims again)."""
    path = claim_path(dag_id, dag_run_id)
    if path in _claimed:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)  # another live process runs it (a scheduler's worker, say): not ours
        return
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    _claimed[path] = descriptor


def claimed_here(dag_id: str, dag_run_id: str) -> bool:
    return claim_path(dag_id, dag_run_id) in _claimed


def holder_died(dag_id: str, dag_run_id: str) -> bool | None:
    """True when the DAG run was claimed and its process is gone, False while it lives, None when
    the run was never claimed (its first task had not started, or another tool ran it)."""
    path = claim_path(dag_id, dag_run_id)
    if path in _claimed:
        return False
    try:
        descriptor = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)  # also drops the lock just taken
    return True
