"""The compose stack's first step: refuse to start with the env file's placeholder or weak secrets.

``docker compose config`` must accept ``docker/env.example`` as it is (its values are
placeholders), so the refusal happens when the stack starts: the ``secrets-check`` service runs
``python -m pipeline.orchestration.secrets_check`` and every other service waits for it to succeed. It names
each variable that still holds a placeholder or is too short, in one line.

``--airflow-passwords FILE`` also writes Airflow's simple auth manager password file from
``AIRFLOW_ADMIN_USER`` and ``AIRFLOW_ADMIN_PASSWORD``, so the API server's login password is the
one in the env file instead of a generated one nobody knows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

REQUIRED_ENV = "RNNFLOW_REQUIRED_SECRETS"
# Values people leave in example files; compared case-insensitively.
PLACEHOLDERS = {"change-me", "changeme", "change_me", "password", "secret", "admin", "example", "test", "xxx",
                "todo", "replace-me", "your-password"}
MIN_LENGTH = 12


def problems(env: Mapping[str, str], names: Iterable[str]) -> list[str]:
    """What is wrong with each named secret, one phrase each (the values never appear)."""
    found = []
    for name in names:
        value = env.get(name, "")
        if not value:
            found.append(f"{name} is not set")
        elif value.strip().lower() in PLACEHOLDERS:
            found.append(f"{name} still holds the placeholder from env.example")
        elif len(value) < MIN_LENGTH:
            found.append(f"{name} is {len(value)} characters (at least {MIN_LENGTH})")
    return found


def write_airflow_passwords(path: Path, env: Mapping[str, str]) -> None:
    """Airflow's simple auth manager reads ``{user: password}`` from this file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({env.get("AIRFLOW_ADMIN_USER") or "admin": env["AIRFLOW_ADMIN_PASSWORD"]}))
    tmp.chmod(0o600)
    tmp.replace(path)


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.orchestration.secrets_check",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--airflow-passwords", type=Path, help="also write Airflow's password file here")
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    names = [name.strip() for name in env.get(REQUIRED_ENV, "").split(",") if name.strip()]
    if not names:
        print(f"rnnflow: error: {REQUIRED_ENV} names no secret to check", file=sys.stderr)
        return 2
    found = problems(env, names)
    if found:
        print(f"rnnflow: error: docker/.env: {'; '.join(found)}. Set real values (see docker/env.example for how "
              "to generate them), then start the stack again.", file=sys.stderr)
        return 2
    if args.airflow_passwords:
        write_airflow_passwords(args.airflow_passwords, env)
    print(f"rnnflow: secrets checked: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
