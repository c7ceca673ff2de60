"""Where a run came from: Airflow ids, data digest, config hash, git commit."""

from __future__ import annotations

import functools
import subprocess
from dataclasses import asdict, dataclass

from pipeline.names import (
    CONFIG_HASH_TAG,
    DAG_ID_TAG,
    DAG_RUN_ID_TAG,
    DATA_DIGEST_TAG,
    GIT_COMMIT_TAG,
    RESUMED_IN_TAG,
    TEST_DIGEST_TAG,
)
from pipeline.paths import PROJECT_ROOT


@functools.cache
def git_commit() -> str:
    """HEAD's commit, suffixed ``-dirty`` when tracked files differ from it; ``unknown`` outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def dag_run_key(dag_id: str, dag_run_id: str) -> str:
    return f"{dag_id}/{dag_run_id}"


@dataclass(frozen=True)
class Lineage:
    dag_id: str
    dag_run_id: str
    config_hash: str
    data_digest: str = ""
    test_digest: str = ""
    git_commit: str = ""
    # The Airflow DAG run that resumed this one after an interruption (``dag_run_id`` stays the
    # identity of its MLflow runs, run folder and registry version).
    resumed_in: str = ""

    @property
    def run_key(self) -> str:
        """The DAG run's key: how its MLflow parent run and registry version are found again."""
        return dag_run_key(self.dag_id, self.dag_run_id)

    def tags(self) -> dict[str, str]:
        return {LINEAGE_TAGS[key]: value for key, value in asdict(self).items() if value}


# Each Lineage field's tag.
LINEAGE_TAGS = {"dag_id": DAG_ID_TAG, "dag_run_id": DAG_RUN_ID_TAG, "config_hash": CONFIG_HASH_TAG,
                "data_digest": DATA_DIGEST_TAG, "test_digest": TEST_DIGEST_TAG, "git_commit": GIT_COMMIT_TAG,
                "resumed_in": RESUMED_IN_TAG}
