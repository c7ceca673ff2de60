"""Real PostgreSQL, Redis and long-running processes for the distributed tests.

Each test gets its own fresh PostgreSQL database and an empty Redis database number, both removed
afterwards. Processes are started in their own session with a marker in their environment, so
teardown can stop the whole tree and then prove that no descendant is left behind.

Without the services a test skips, unless RNNFLOW_REQUIRE_SERVICES=1 (CI sets it): then it fails,
so a CI machine that lost its PostgreSQL or Redis cannot pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_HOST = os.environ.get("RNNFLOW_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("RNNFLOW_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("RNNFLOW_TEST_PG_USER", "postgres")
REDIS_HOST = os.environ.get("RNNFLOW_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("RNNFLOW_TEST_REDIS_PORT", "6379"))
MARKER_ENV = "RNNFLOW_TEST_PROCESS_MARKER"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def unavailable(message: str):
    """Skip for want of a service or tool, except in CI (RNNFLOW_REQUIRE_SERVICES=1), where it fails."""
    if os.environ.get("RNNFLOW_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (RNNFLOW_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def require(name: str, host: str, port: int) -> None:
    if not _reachable(host, port):
        unavailable(f"{name} is not reachable on {host}:{port}")


def compose_client() -> list[str] | None:
    """The Docker Compose command: the v2 plugin, else Debian's docker-compose 1.29; None if neither."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def http_ok(url: str, timeout: float = 5) -> bool:
    """The URL answers 200 (a server's health or ping endpoint): for wait_for."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh database; yields its name and drops it (with any connection left) afterwards."""
    import psycopg2

    require("PostgreSQL", PG_HOST, PG_PORT)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def postgres_url(database: str, driver: str = "postgresql") -> str:
    return f"{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


@contextlib.contextmanager
def redis_database() -> Iterator[str]:
    """An empty Redis database number (the server may be shared); yields its URL, flushed afterwards."""
    import redis

    require("Redis", REDIS_HOST, REDIS_PORT)
    for number in range(15, 0, -1):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number)
        # Claim the number with a key, so a concurrent test does not take the same one.
        if client.dbsize() == 0 and client.set("rnnflow-test-claim", "1", nx=True):
            break
        client.close()
    else:
        pytest.fail(f"no empty Redis database on {REDIS_HOST}:{REDIS_PORT}")
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
    finally:
        client.flushdb()
        client.close()


class ProcessGroup:
    """Long-running commands, each in its own session, all marked so none can escape teardown."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.marker = uuid.uuid4().hex
        self.processes: dict[str, subprocess.Popen] = {}

    def env(self, base: dict[str, str]) -> dict[str, str]:
        return {**base, MARKER_ENV: self.marker}

    def start(self, name: str, command: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "w")
        process = subprocess.Popen(command, env=self.env(env), stdout=log, stderr=subprocess.STDOUT,
                                   cwd=cwd, start_new_session=True)
        log.close()
        self.processes[name] = process
        return process

    def log_tail(self, chars: int = 3000) -> str:
        parts = []
        for name in self.processes:
            text = (self.log_dir / f"{name}.log").read_text(errors="replace")
            parts.append(f"--- {name} ---\n{text[-chars:]}")
        return "\n".join(parts)

    def assert_running(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}\n{self.log_tail()}")

    def leftovers(self) -> list[int]:
        """PIDs of live processes started by this group: in one of its sessions, or carrying its
        marker (which survives a ``setsid``; ``setproctitle`` may overwrite the environment, so the
        session is checked too)."""
        needle = f"{MARKER_ENV}={self.marker}".encode()
        sessions = {process.pid for process in self.processes.values()}
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            state, session = fields[0], int(fields[3])
            if state != "Z" and (session in sessions or needle in environ):
                found.append(int(entry.name))
        return found

    def stop(self, timeout: float = 60) -> list[int]:
        """SIGTERM every group, wait, SIGKILL what is left; returns the marked PIDs still alive."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        # Children may have left their parent's group (Airflow's task supervisor, gunicorn workers):
        # the marker finds them.
        while self.leftovers() and time.monotonic() < deadline:
            time.sleep(1)
        for pid in self.leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        time.sleep(1)
        return self.leftovers()


def wait_for(predicate, timeout: float, what: str, group: ProcessGroup | None = None, interval: float = 2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if group is not None:
            group.assert_running()
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    tail = group.log_tail() if group is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")


AIRFLOW = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "airflow")


def airflow_env(home: Path, api_port: int, **settings: str) -> dict[str, str]:
    """The environment every Airflow process of one test deployment shares: its own home, this
    project's DAGs, the api-server on ``api_port``; ``settings`` adds or overrides variables."""
    venv_bin = Path(AIRFLOW).parent
    env = {
        **os.environ,
        # `airflow standalone` starts its components as `airflow ...` subprocesses found on PATH.
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).resolve().parents[1] / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        # Only the runs a test triggers: unpausing would otherwise also start the latest scheduled
        # run, which downloads the real corpus and holds the DAG's single run slot (max_active_runs=1).
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    }
    env.update(settings)
    return env


def airflow_cli(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    result = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"airflow {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout


def metadata_db_url(env: dict[str, str]) -> str:
    """The deployment's Airflow metadata DB: the configured one, else the home's SQLite file."""
    return env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or f"sqlite:///{env['AIRFLOW_HOME']}/airflow.db"


def _query(env: dict[str, str], sql: str, **params) -> list[tuple]:
    """Read the metadata DB directly. Polling through the `airflow` CLI cost a core: each call
    imports Airflow for about 5 s of CPU, every few seconds, beside the tasks being waited for."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(metadata_db_url(env), poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sqlalchemy.text(sql), params))
    except sqlalchemy.exc.OperationalError:
        return []  # tables not there yet (a migration or the first parse still running)
    finally:
        engine.dispose()


def dag_parsed(env: dict[str, str], dag_id: str) -> bool:
    """The dag-processor has stored the DAG (model and serialized form): it can be triggered."""
    return bool(_query(env, "SELECT d.dag_id FROM dag d JOIN serialized_dag s ON s.dag_id = d.dag_id "
                            "WHERE d.dag_id = :dag_id", dag_id=dag_id))


def run_state(env: dict[str, str], dag_id: str, run_id: str) -> str | None:
    """The run's state once it has finished (success or failed), else None."""
    rows = _query(env, "SELECT state FROM dag_run WHERE dag_id = :dag_id AND run_id = :run_id",
                  dag_id=dag_id, run_id=run_id)
    state = rows[0][0] if rows else None
    return state if state in ("success", "failed") else None


class StepTimer:
    """Prints how long each step of a long test took, so a slow run shows where its time went."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.last = self.start = time.monotonic()

    def __call__(self, step: str) -> None:
        import sys

        now = time.monotonic()
        print(f"{self.name}: {step} {now - self.last:.1f} s (total {now - self.start:.1f} s)", file=sys.stderr)
        self.last = now
