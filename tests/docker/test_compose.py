"""docker/: the compose file is valid Compose, wires the distributed deployment as documented, and
carries no credential; the images bake none in.

There is no Docker engine on the CI machine. The compose file is checked three ways: against the
Compose Specification JSON schema (``compose_spec.json``, vendored unchanged from docker-compose
1.29.2, Apache-2.0, the schema that release validates with), by the structural assertions below,
and by ``docker compose config`` / ``docker-compose config`` when a client is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

DOCKER = PROJECT_ROOT / "docker"
SCHEMA = Path(__file__).with_name("compose_spec.json")
AIRFLOW_COMPONENTS = {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                      "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|_KEY\b", re.IGNORECASE)
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"{path}:{number}: not NAME=value"
        values[name.strip()] = value.strip()
    return values


def interpolate(value, variables: dict[str, str]):
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$ on every string of a loaded file."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        current = variables.get(name)
        if op in (":-", "-") and (current is None or (op == ":-" and current == "")):
            return arg
        if op in (":?", "?") and (current is None or (op == ":?" and current == "")):
            raise KeyError(f"{name}: {arg}")
        if current is None:
            raise KeyError(f"{name} is not set and has no default")
        return current

    return _VARIABLE.sub(substitute, value)


@pytest.fixture(scope="module")
def raw_compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def compose(raw_compose) -> dict:
    return interpolate(raw_compose, env_file(DOCKER / "env.example"))


def test_compose_file_matches_the_compose_schema(compose):
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft201909Validator(schema).iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{list(error.absolute_path)}: {error.message}" for error in errors)


def test_schema_check_catches_a_broken_file(compose):
    """The schema check above can fail: a misspelt key is rejected."""
    import jsonschema

    broken = json.loads(json.dumps(compose))
    broken["services"]["redis"]["healtcheck"] = broken["services"]["redis"].pop("healthcheck")
    assert list(jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text())).iter_errors(broken))


def test_every_component_of_the_deployment_is_there(compose):
    services = compose["services"]
    for name, command in AIRFLOW_COMPONENTS.items():
        assert services[name]["command"][:2] == ["airflow", command], name
    assert {"postgres", "redis", "mlflow", "airflow-init"} <= set(services)
    mlflow = services["mlflow"]["command"]
    assert mlflow[:2] == ["mlflow", "server"]
    assert mlflow[mlflow.index("--backend-store-uri") + 1].startswith("postgresql://")
    assert "--artifacts-destination" in mlflow  # served artifacts: clients never need the volume


def test_workers_split_the_queues_and_the_gpu_worker_reserves_gpus(compose):
    services = compose["services"]
    cpu, gpu = services["airflow-worker-cpu"], services["airflow-worker-gpu"]

    def queues(command):
        return command[command.index("--queues") + 1].split(",")

    assert queues(cpu["command"]) == ["default"]
    assert queues(gpu["command"]) == ["gpu"]
    assert gpu["build"]["target"] == "gpu-trainer" and cpu["build"]["target"] == "airflow"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    for name, service in services.items():
        if name.startswith("airflow-"):
            env = service["environment"]
            assert env["RNNFLOW_TRAIN_QUEUE"] == "gpu", name  # read where the DAG is parsed
            assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
            assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000", name


def test_train_queue_setting_matches_the_dag_factory(raw_compose):
    from pipeline.names import TRAIN_QUEUE_ENV

    assert TRAIN_QUEUE_ENV in raw_compose["x-airflow-env"]


def test_credentials_come_only_from_the_env_file(raw_compose):
    example = env_file(DOCKER / "env.example")
    secrets = {name for name in example if SECRET_NAME.search(name)}
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET"} <= secrets
    assert all(example[name] == "change-me" for name in secrets), "env.example must hold placeholders only"
    text = (DOCKER / "compose.yaml").read_text()
    for name in secrets:
        assert f"${{{name}" in text, f"{name} is never used"
    # Every URL with a password takes it from a variable.
    for userinfo in re.findall(r"://([^@/\s]*)@", text):
        assert ":" not in userinfo or re.fullmatch(r"(\$\{[^}]+\})?:\$\{[^}]+\}", userinfo), userinfo
    missing = {key: value for key, value in example.items() if key != "POSTGRES_PASSWORD"}
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(raw_compose, missing)
    assert (PROJECT_ROOT / ".gitignore").read_text().count("docker/.env") == 1


def test_images_bake_in_no_credentials():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if re.match(r"\s*(ENV|ARG)\b", line):
            assert not SECRET_NAME.search(line), line
    targets = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert targets == ["airflow", "gpu-trainer"]
    assert re.search(r"^ARG TENSORFLOW_GPU_IMAGE=tensorflow/tensorflow:2\.21\.\d+-gpu$", dockerfile, re.MULTILINE)


def _compose_client() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_client_accepts_the_file(tmp_path):
    client = _compose_client()
    if client is None:
        pytest.skip("no docker compose client installed (the schema test above still ran)")
    result = subprocess.run([*client, "-f", str(DOCKER / "compose.yaml"), "--env-file", str(DOCKER / "env.example"),
                             "config", "--quiet"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
