"""One process at a time decides a registered model's aliases."""

from __future__ import annotations

import hashlib

from pipeline.io import exclusive
from pipeline.paths import safe_file_name, state_root


def registry_lock(registry_uri: str, model_name: str):
    """Only one process on this host decides a registered model's aliases at a time.

    A promotion reads ``@champion``, compares against it and moves the alias; two runs doing that
    at once would both compare against the same old champion and the alias would end wherever the
    later one wrote it, leaving the other version's record claiming a title it does not hold.
    Across hosts the register task runs one at a time per DAG (``max_active_tis_per_dag=1``)."""
    key = hashlib.sha256(f"{registry_uri}\n{model_name}".encode()).hexdigest()[:16]
    return exclusive(state_root() / ".rnnflow-locks" / f"registry-{safe_file_name(model_name)}-{key}.lock")
