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
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT
from tests.services import compose_client

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
        # The api-server's shell first writes its password file, then execs Airflow.
        started = " ".join(services[name]["command"]).split("exec ")[-1].split()
        assert started[:2] == ["airflow", command], name
    assert {"postgres", "redis", "mlflow", "airflow-init"} <= set(services)
    mlflow = services["mlflow"]["command"]
    assert mlflow[:2] == ["mlflow", "server"]
    assert mlflow[mlflow.index("--backend-store-uri") + 1].startswith("postgresql://")
    assert "--artifacts-destination" in mlflow  # served artifacts: clients never need the volume


def test_workers_split_the_queues_and_the_gpu_overlay_reserves_gpus(compose):
    services = compose["services"]
    cpu, gpu = services["airflow-worker-cpu"], services["airflow-worker-gpu"]

    def queues(command):
        return command[command.index("--queues") + 1].split(",")

    assert queues(cpu["command"]) == ["default"]
    assert queues(gpu["command"]) == ["gpu"]
    assert gpu["build"]["target"] == "gpu-trainer" and cpu["build"]["target"] == "airflow"
    # The GPU reservation is its own file, so the same stack also starts on a host without GPUs.
    assert "deploy" not in gpu
    overlay = yaml.safe_load((DOCKER / "compose.gpu.yaml").read_text())["services"]
    devices = overlay["airflow-worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
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
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_ADMIN_PASSWORD",
            "MLFLOW_ADMIN_PASSWORD"} <= secrets
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


def _waits_for(services: dict, name: str, target: str, seen: frozenset = frozenset()) -> bool:
    """``name`` starts only after ``target`` (directly or through what it depends on)."""
    depends = services[name].get("depends_on") or {}
    return target in depends or any(_waits_for(services, other, target, seen | {name})
                                    for other in depends if other not in seen)


def test_nothing_is_reachable_unauthenticated_or_beyond_loopback(compose, raw_compose):
    services = compose["services"]
    published = {name: service["ports"] for name, service in services.items() if service.get("ports")}
    assert set(published) == {"mlflow", "airflow-apiserver"}
    assert all(port.startswith("127.0.0.1:") for ports in published.values() for port in ports), published
    mlflow_command = services["mlflow"]["command"]
    assert mlflow_command[mlflow_command.index("--app-name") + 1] == "basic-auth"
    assert services["mlflow"]["environment"]["MLFLOW_AUTH_ADMIN_PASSWORD"] == "change-me"  # from env.example
    auth_ini = (DOCKER / "mlflow-auth.ini").read_text()
    assert "default_permission = NO_PERMISSIONS" in auth_ini and "admin_password =\n" in auth_ini
    for name in ("airflow-worker-cpu", "airflow-worker-gpu", "airflow-scheduler"):
        environment = services[name]["environment"]
        assert environment["MLFLOW_TRACKING_PASSWORD"] == "change-me" and environment["MLFLOW_TRACKING_USERNAME"]
    api = services["airflow-apiserver"]
    assert "--airflow-passwords" in " ".join(api["command"])
    assert api["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    # Placeholder secrets stop the stack before anything starts.
    assert services["secrets-check"]["command"] == ["python", "-m", "pipeline.orchestration.secrets_check"]
    for name in set(services) - {"secrets-check"}:
        assert _waits_for(services, name, "secrets-check"), f"{name} starts without the secrets check"


def test_the_secrets_check_refuses_the_example_values_and_names_each():
    from pipeline.orchestration import secrets_check

    example = env_file(DOCKER / "env.example")
    env = {**example, secrets_check.REQUIRED_ENV: raw_secrets_list()}
    found = secrets_check.problems(env, raw_secrets_list().split(","))
    assert len(found) == len(raw_secrets_list().split(",")) and all("placeholder" in item for item in found)
    strong = {name: "x7" * 16 for name in raw_secrets_list().split(",")}
    assert secrets_check.problems({**env, **strong}, raw_secrets_list().split(",")) == []
    assert secrets_check.problems({"A": "short1"}, ["A", "B"]) == ["A is 6 characters (at least 12)", "B is not set"]


def raw_secrets_list() -> str:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())["x-secrets"]["RNNFLOW_REQUIRED_SECRETS"]


def test_the_secrets_check_exits_2_with_one_line_and_writes_the_airflow_password_file(tmp_path, capsys):
    from pipeline.orchestration import secrets_check

    names = "POSTGRES_PASSWORD,AIRFLOW_ADMIN_PASSWORD"
    bad = {secrets_check.REQUIRED_ENV: names, "POSTGRES_PASSWORD": "change-me", "AIRFLOW_ADMIN_PASSWORD": "change-me"}
    assert secrets_check.main(["--airflow-passwords", str(tmp_path / "p.json")], bad) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rnnflow: error: docker/.env: POSTGRES_PASSWORD still holds")
    assert "change-me" not in err and not (tmp_path / "p.json").exists()
    good = {**bad, "POSTGRES_PASSWORD": "p" * 20, "AIRFLOW_ADMIN_PASSWORD": "s3cret-" * 3, "AIRFLOW_ADMIN_USER": "ops"}
    assert secrets_check.main(["--airflow-passwords", str(tmp_path / "auth" / "p.json")], good) == 0
    assert json.loads((tmp_path / "auth" / "p.json").read_text()) == {"ops": "s3cret-" * 3}
    assert (tmp_path / "auth" / "p.json").stat().st_mode & 0o077 == 0


def test_images_bake_in_no_credentials():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if re.match(r"\s*(ENV|ARG)\b", line):
            assert not SECRET_NAME.search(line), line
    targets = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert targets == ["airflow", "gpu-trainer"]
    assert re.search(r"^ARG TENSORFLOW_GPU_IMAGE=tensorflow/tensorflow:2\.21\.\d+-gpu$", dockerfile, re.MULTILINE)


def test_compose_client_accepts_the_file(tmp_path):
    client = compose_client()
    if client is None:
        pytest.skip("no docker compose client installed (the schema test above still ran)")
    result = subprocess.run([*client, "-f", str(DOCKER / "compose.yaml"), "--env-file", str(DOCKER / "env.example"),
                             "config", "--quiet"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_build_context_is_the_project_only():
    """.dockerignore ignores everything but what the Dockerfile copies: no .venv, local state, docker/.env."""
    rules = [line.strip() for line in (DOCKER.parent / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert rules[0] == "*"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert {"pyproject.toml", "uv.lock", "README.md", "pipeline", "models", "dags"} <= allowed
    assert not any(name.startswith((".", "data", "tests", "docker/.env")) for name in allowed)
