"""konlpy inside a real Celery prefork worker (Redis broker): the JVM starts in the task's process,
never in the worker's parent, and the tokens equal those made outside Celery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.services import ProcessGroup, redis_database, wait_for

# One worker runs the real-service tests one after another (make test runs pytest-xdist):
# concurrently they would fight over two cores and ports.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("services")]

TEXTS = ["아버지가방에들어가신다", "이 영화 정말 재미있어요 ㅋㅋ", "배우들의 연기가 최고였다!",
         "스토리가 너무 지루했다", "다시 보고 싶은 영화", "음악이 좋았어요"]


def _maps_jvm(pid: int) -> bool:
    return "libjvm" in Path(f"/proc/{pid}/maps").read_text()


def _tokens_outside_celery() -> tuple[list[list[str]], list[str]]:
    """The same tokens from a plain process. Not from this one: a JVM started in the pytest process
    this early hung a later konlpy test in the full suite (Komoran's constructor never returned)."""
    script = (
        "import json, sys\n"
        "from pipeline.config import TextConfig\n"
        "from pipeline.text.processor import TextProcessor\n"
        "from pipeline.text.tokenizers import make_tokenizer\n"
        "texts = json.loads(sys.argv[1])\n"
        "print(json.dumps([[make_tokenizer('okt').tokenize(t) for t in texts],\n"
        "                  TextProcessor.from_config(TextConfig(tokenizer='okt', workers=1)).joined_tokens(texts)]))\n")
    result = subprocess.run([sys.executable, "-c", script, json.dumps(TEXTS)], capture_output=True, text=True,
                            timeout=300, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    direct, joined = json.loads(result.stdout.strip().splitlines()[-1])
    return direct, joined


def test_konlpy_tokenizes_in_a_prefork_worker(tmp_path):
    with redis_database() as broker:
        env = {**os.environ, "RNNFLOW_TEST_BROKER": broker,
               "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(PROJECT_ROOT)])}
        group = ProcessGroup(tmp_path)
        worker = group.start("worker", [sys.executable, "-m", "celery", "-A", "celery_konlpy_app", "worker",
                                        "--pool=prefork", "--concurrency=2", "--loglevel=INFO",
                                        "--without-gossip", "--without-mingle"], env=env, cwd=tmp_path)
        try:
            sys.path.insert(0, str(Path(__file__).parent))
            os.environ["RNNFLOW_TEST_BROKER"] = broker
            import celery_konlpy_app

            wait_for(lambda: "ready" in (tmp_path / "worker.log").read_text(), 120, "the Celery worker", group)
            pending = [celery_konlpy_app.tokenize.delay(TEXTS, workers) for workers in (1, 2, 1, 2)]
            results = [result.get(timeout=300) for result in pending]
            parent_has_jvm = _maps_jvm(worker.pid)
        finally:
            leftovers = group.stop()
            sys.path.remove(str(Path(__file__).parent))
            sys.modules.pop("celery_konlpy_app", None)
            os.environ.pop("RNNFLOW_TEST_BROKER", None)

    assert leftovers == []
    assert not parent_has_jvm, "the worker's parent process loaded a JVM"
    expected_direct, expected_joined = _tokens_outside_celery()
    for result in results:
        assert result["pid"] != worker.pid
        assert result["jvm_after"] is True
        assert result["direct"] == expected_direct
        assert result["parallel"] == expected_joined
    # Four tasks on a pool of two: children are reused, and a reused child already has its JVM.
    assert {result["jvm_before"] for result in results} <= {False, True}
    assert any(result["jvm_before"] is False for result in results)
    assert expected_direct[0][:2] == ["아버지", "가방"]
