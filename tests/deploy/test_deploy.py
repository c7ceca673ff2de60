"""The distributed deployment, built and run: docker/Dockerfile's two images, docker/compose.yaml's
stack, the NSMC DAG triggered through the Airflow REST API, its training task on the `gpu` queue
worker, a `@champion` in the MLflow server's registry, and that champion served over HTTP.

Everything the README's "Going distributed" tells a user to run, run for real on this host's Docker
engine (started here when none runs). Base images come from a registry when one answers, else
from local stand-ins (docker/local-bases/build.sh). All traffic stays on the stack's own network
and loopback. `make deploy-test` runs it; a failed run keeps the stack's logs in
test-artifacts/deploy/.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.services import (
    StepTimer,
    compose_client,
    free_port,
    http_ok,
    unavailable,
    wait_for,
)

# Its own xdist group: in `make test` it runs beside the other tests instead of after the services ones.
pytestmark = [pytest.mark.deploy, pytest.mark.slow, pytest.mark.xdist_group("deploy")]

DAG_ID = "nsmc_sentiment"
MODEL = "nsmc-sentiment"
PROJECT = "rnnflow-deploytest"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "deploy"
OFFICIAL_BASES = {"PYTHON_IMAGE": "python:3.11-slim-bookworm",
                  "TENSORFLOW_GPU_IMAGE": "tensorflow/tensorflow:2.21.0-gpu",
                  "POSTGRES_IMAGE": "postgres:16-bookworm", "REDIS_IMAGE": "redis:7.2-bookworm"}
# dockerd's own choice (overlay2 where the kernel allows overlay mounts: on this CI host, a tenth of
# vfs's build time and disk), then vfs, which works everywhere but copies whole file systems.
STORAGE_DRIVERS = [[], ["--storage-driver", "vfs"]]


TOKENIZE = ("import json; from pipeline.text.tokenizers import make_tokenizer; "
            "print(json.dumps({name: make_tokenizer(name).tokenize('아 더빙 진짜 짜증나네요 목소리') "
            "for name in ('okt', 'mecab')}, ensure_ascii=False))")


def _docker(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


def _engine_answers() -> bool:
    try:
        return _docker("info", timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _start_engine(log_dir: Path) -> subprocess.Popen | None:
    """The engine, started here if none answers; returns the process to stop (None: not ours)."""
    if shutil.which("docker") is None:
        unavailable("no docker client (Debian: apt-get install docker.io docker-compose debootstrap)")
    if _engine_answers():
        return None
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        unavailable("no Docker engine answers and this user cannot start dockerd")
    for driver in STORAGE_DRIVERS:
        log = open(log_dir / "dockerd.log", "w")
        process = subprocess.Popen(["dockerd", *driver], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: process.poll() is None and _engine_answers(), 60, "dockerd to answer")
            return process
        except AssertionError:
            process.terminate()
            process.wait(timeout=60)
    unavailable(f"dockerd did not start with any storage driver (see {log_dir / 'dockerd.log'})")


def _base_images() -> dict[str, str]:
    """The public base images when a registry gives them, else the local stand-ins."""
    try:
        if all(_docker("pull", "--quiet", image, timeout=120, check=False).returncode == 0
               for image in OFFICIAL_BASES.values()):
            return {}
    except subprocess.TimeoutExpired:
        pass
    if shutil.which("debootstrap") is None:
        unavailable("no registry answers and debootstrap (for local base images) is missing")
    built = subprocess.run([str(PROJECT_ROOT / "docker" / "local-bases" / "build.sh")], capture_output=True,
                           text=True, timeout=3600)
    assert built.returncode == 0, built.stderr[-3000:]
    return dict(line.split("=", 1) for line in built.stdout.split())


def _env_file(path: Path, corpora: Path, bases: dict[str, str], airflow_port: int, mlflow_port: int) -> dict:
    values = {
        "COMPOSE_PROJECT_NAME": PROJECT, "POSTGRES_USER": "rnnflow", "POSTGRES_PASSWORD": secrets.token_urlsafe(18),
        "REDIS_PASSWORD": secrets.token_urlsafe(18),
        "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "AIRFLOW_JWT_SECRET": secrets.token_hex(32), "AIRFLOW_ADMIN_USER": "admin",
        "AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(18), "MLFLOW_ADMIN_USER": "admin",
        "MLFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(18), "MLFLOW_SECRET_KEY": secrets.token_hex(32),
        "RNNFLOW_CORPORA": str(corpora),
        "RNNFLOW_PUBLISH_ADDRESS": "127.0.0.1", "AIRFLOW_PORT": str(airflow_port), "MLFLOW_PORT": str(mlflow_port),
        "CPU_WORKER_CONCURRENCY": "2", **bases,
    }
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return values


def _assert_no_service_restarting() -> None:
    """A service in a restart loop never gets healthy: say which one, with its last lines."""
    listing = _docker("ps", "--all", "--filter", f"label=com.docker.compose.project={PROJECT}", "--format",
                      "{{.Names}}\t{{.Status}}", timeout=60).stdout.splitlines()
    for name, status in (line.split("\t", 1) for line in listing):
        if status.startswith("Restarting"):
            tail = _docker("logs", "--tail", "15", name, check=False, timeout=60)
            raise AssertionError(f"{name} keeps restarting:\n{(tail.stdout + tail.stderr)[-3000:]}")


def _exited_with_errors() -> str:
    """The last lines of each of the project's containers that exited non-zero: `compose up` says
    only that one did, and the kept compose.log is not where a CI log shows it."""
    listing = _docker("ps", "--all", "--filter", f"label=com.docker.compose.project={PROJECT}", "--filter",
                      "status=exited", "--format", "{{.Names}}\t{{.Status}}", timeout=60, check=False).stdout
    tails = []
    for name, status in (line.split("\t", 1) for line in listing.splitlines() if "\t" in line):
        if not status.startswith("Exited (0)"):
            tail = _docker("logs", "--tail", "25", name, check=False, timeout=60)
            tails.append(f"--- {name} ({status}):\n{(tail.stdout + tail.stderr)[-3000:]}")
    return "\n".join(tails) or "(no container exited with an error)"


class Api:
    """The Airflow REST API (v2) as the admin of docker/.env."""

    def __init__(self, base: str, user: str, password: str) -> None:
        self.base, self.user, self.password, self.token = base, user, password, None

    # How long a read may go unanswered before the test gives up on the api-server. On two cores shared
    # with the other tests' processes and a training task, a CI run once waited over 60 s for one GET.
    PATIENCE = 600

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        if self.token is None:
            self.token = self._request("POST", "/auth/token", {"username": self.user, "password": self.password},
                                       auth=False)["access_token"]
        if method != "GET":  # a write is not retried: a timed-out POST may still have been done
            return self._request(method, path, body)
        deadline = time.monotonic() + self.PATIENCE
        while True:
            try:
                return self._request(method, path, body)
            except (TimeoutError, ConnectionError, urllib.error.URLError) as error:
                if isinstance(error, urllib.error.HTTPError) or time.monotonic() > deadline:
                    raise
                print(f"deploy: GET {path} unanswered ({error}); asking again", file=sys.stderr)
                time.sleep(5)

    def _request(self, method: str, path: str, body: dict | None, auth: bool = True) -> dict:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base + path, method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"{}")

    def task_log(self, run_id: str, task: dict, attempt: int) -> str:
        path = (f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task['task_id']}/logs/{attempt}"
                f"?map_index={task['map_index']}&full_content=true")
        try:
            content = self.call("GET", path).get("content", [])
        except (urllib.error.URLError, ValueError) as error:
            return f"(log not readable: {error})"
        return "\n".join(item.get("event", str(item)) if isinstance(item, dict) else str(item) for item in content)

    def dag_parsed(self) -> bool:
        try:
            return bool(self.call("GET", f"/api/v2/dags/{DAG_ID}"))
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return False
            raise


def test_the_compose_stack_runs_the_nsmc_dag_on_the_gpu_queue_and_serves_the_champion(tmp_path):
    from pipeline.corpora.sample import write_sample_corpus

    step = StepTimer("deploy")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    engine = _start_engine(ARTIFACTS)
    compose_cli = compose_client() or unavailable("no docker compose client (Debian: apt-get install docker-compose)")
    step("docker engine")
    bases = _base_images()
    step("base images" + (" (local stand-ins)" if bases else " (pulled)"))

    corpora = tmp_path / "corpora"
    write_sample_corpus(corpora / "nsmc", train_rows=400, test_rows=200, seed=11)
    for path in [corpora, *corpora.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the containers' user is uid 50000
    airflow_port, mlflow_port, serve_port = free_port(), free_port(), free_port()
    env_path = tmp_path / "deploy.env"
    values = _env_file(env_path, corpora, bases, airflow_port, mlflow_port)
    compose_env = {**os.environ, "DOCKER_BUILDKIT": "0", "COMPOSE_DOCKER_CLI_BUILD": "0"}

    def compose(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([*compose_cli, "--project-name", PROJECT, "--env-file", str(env_path),
                               "-f", str(PROJECT_ROOT / "docker" / "compose.yaml"), *args],
                              capture_output=True, text=True, timeout=timeout, env=compose_env)
        assert not check or done.returncode == 0, f"compose {' '.join(args)}:\n{done.stderr[-4000:]}"
        return done

    passed = False
    try:
        compose("config", "--quiet")
        # A run killed before its teardown leaves the project's containers and volumes behind; `up`
        # would recreate the containers over the old volumes, whose database knows another password.
        compose("down", "--volumes", "--remove-orphans", timeout=600)
        compose("build", "airflow-init", "airflow-worker-gpu", timeout=3600)
        sizes = {image: _docker("image", "inspect", "--format", "{{.Size}}", image).stdout.strip()
                 for image in ("rnnflow-airflow:latest", "rnnflow-gpu-trainer:latest")}
        step("images built: " + ", ".join(f"{image} {int(size) / 1e9:.2f} GB" for image, size in sizes.items()))
        for image in sizes:
            user = _docker("run", "--rm", "--entrypoint", "id", image, "-u").stdout.strip()
            assert user == "50000", (image, user)

        up = compose("up", "-d", timeout=1800, check=False)
        assert up.returncode == 0, f"compose up -d:\n{up.stderr[-3000:]}\n{_exited_with_errors()}"
        api = Api(f"http://127.0.0.1:{airflow_port}", values["AIRFLOW_ADMIN_USER"], values["AIRFLOW_ADMIN_PASSWORD"])
        wait_for(lambda: http_ok(f"{api.base}/api/v2/monitor/health", timeout=5), 900, "the Airflow api-server")
        wait_for(lambda: _assert_no_service_restarting() or api.dag_parsed(), 900,
                 f"the dag-processor to parse {DAG_ID}", interval=5)
        step("stack up, DAG parsed")

        run_id = "deploy-test"
        conf = {"source": "/corpora/nsmc", "models": ["lstm"],
                "overrides": ["train.epochs=2", "train.batch_size=32", "model.units=16", "model.embedding_dim=16"]}
        # Unpausing also queues the schedule's latest run, on the pipeline's default corpus, which the
        # stack does not have: the scheduler starts it first and, one active run at a time, ours waits
        # until it has failed its retries (about 270 s of the DAG run step; the runs are printed below).
        api.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"dag_run_id": run_id, "logical_date": None, "conf": conf})
        api.call("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})

        def finished() -> str | None:
            _assert_no_service_restarting()
            state = api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")["state"]
            return state if state in ("success", "failed") else None

        state = wait_for(finished, 2400, f"DAG run {run_id}", interval=10)
        tasks = api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
        if state != "success":  # the failed tasks' own logs live on the workers, which teardown removes
            for task in tasks:
                if task["state"] in ("failed", "up_for_retry"):
                    for attempt in range(1, (task["try_number"] or 1) + 1):
                        print(f"deploy: log of {task['task_id']}[{task['map_index']}] try {attempt}:\n"
                              + api.task_log(run_id, task, attempt)[-6000:], file=sys.stderr)
        assert state == "success", [(t["task_id"], t["state"]) for t in tasks]
        step("DAG run through the scheduler and the Celery workers")
        for other in api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns")["dag_runs"]:
            print(f"deploy:   DAG run {other['dag_run_id']} ({other['run_type']}): {other['state']}, "
                  f"queued {other['queued_at']}, started {other['start_date']}", file=sys.stderr)
        for task in sorted(tasks, key=lambda t: t["start_date"] or ""):  # where the run's time went
            print(f"deploy:   {task['task_id']}[{task['map_index']}] on {task['queue']}: {task['state']}, "
                  f"{task['duration'] or 0:.1f} s, started {task['start_date']}", file=sys.stderr)

        # konlpy's JVM and MeCab-ko work in both worker images (the DAG above used MeCab only).
        for worker in ("airflow-worker-cpu", "airflow-worker-gpu"):
            tokens = compose("exec", "-T", worker, "python", "-c", TOKENIZE).stdout.strip().splitlines()[-1]
            assert json.loads(tokens) == {"okt": ["아", "더빙", "진짜", "짜증나네요", "목소리"],
                                          "mecab": ["아", "더", "빙", "진짜", "짜증", "나", "네요", "목소리"]}, \
                (worker, tokens)
        step("konlpy (JVM) and MeCab-ko in both worker images")

        gpu_host = compose("exec", "-T", "airflow-worker-gpu", "hostname").stdout.strip()
        trains = [t for t in tasks if t["task_id"] == "train"]
        assert trains and all(t["queue"] == "gpu" and t["hostname"] == gpu_host for t in trains), (gpu_host, trains)
        others = [t for t in tasks if t["task_id"] != "train" and t["state"] == "success"]
        assert others and all(t["queue"] == "default" and t["hostname"] != gpu_host for t in others), others

        os.environ.update(MLFLOW_TRACKING_USERNAME=values["MLFLOW_ADMIN_USER"],
                          MLFLOW_TRACKING_PASSWORD=values["MLFLOW_ADMIN_PASSWORD"])
        import mlflow

        mlflow_uri = f"http://127.0.0.1:{mlflow_port}"
        client = mlflow.MlflowClient(mlflow_uri, mlflow_uri)
        champion = client.get_model_version_by_alias(MODEL, "champion")
        assert champion.tags["rnnflow.dag_run_id"] == run_id
        assert client.get_run(champion.tags["rnnflow.run_id"]).info.status == "FINISHED"
        # Nothing unauthenticated: the MLflow API refuses a request without the admin's password.
        anonymous = urllib.request.Request(f"{mlflow_uri}/api/2.0/mlflow/registered-models/search")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(anonymous, timeout=30)
        assert refused.value.code == 401
        step("champion in the MLflow server's registry")

        compose("run", "-d", "--rm", "--no-deps", "--name", f"{PROJECT}-serve", "-p", f"127.0.0.1:{serve_port}:8000",
                "airflow-worker-cpu", "rnnflow", "serve", f"{MODEL}@champion", "--host", "0.0.0.0", "--port", "8000")
        wait_for(lambda: http_ok(f"http://127.0.0.1:{serve_port}/ping", timeout=5), 600, "the scoring server")
        texts = ["정말 재밌어요 최고", "너무 지루했다 최악"]
        request = urllib.request.Request(f"http://127.0.0.1:{serve_port}/invocations",
                                         data=json.dumps({"inputs": texts}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            predictions = json.loads(response.read())["predictions"]
        assert len(predictions) == 2 and all(row["label"] in ("negative", "positive") for row in predictions)
        step("champion served over HTTP")
        passed = True
    finally:
        if not passed:
            logs = compose("logs", "--no-color", "--timestamps", check=False, timeout=300)
            (ARTIFACTS / "compose.log").write_text(logs.stdout + logs.stderr)
        _docker("rm", "-f", f"{PROJECT}-serve", check=False)
        compose("down", "--volumes", "--remove-orphans", check=False, timeout=600)
        if engine is not None:
            engine.terminate()
            engine.wait(timeout=120)
        step("teardown" + ("" if passed else f" (logs kept in {ARTIFACTS / 'compose.log'})"))
