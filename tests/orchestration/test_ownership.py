"""A DAG run's claim outlives nothing: held while its process lives, free once it dies, even by kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from pipeline.orchestration import ownership

CLAIMER = ("import sys, time\n"
           "from pipeline.orchestration import ownership\n"
           "ownership.claim('dag', 'manual__2026-11-30T08:00:00+00:00')\n"
           "print('claimed', flush=True)\n"
           "time.sleep(600)\n")


def test_a_claim_is_held_while_its_process_lives_and_free_after_kill_9(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    run_id = "manual__2026-11-30T08:00:00+00:00"
    assert ownership.holder_died("dag", run_id) is None  # never claimed
    process = subprocess.Popen([sys.executable, "-c", CLAIMER], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "AIRFLOW_HOME": str(tmp_path)})
    try:
        assert process.stdout.readline().strip() == "claimed"
        assert ownership.holder_died("dag", run_id) is False
        assert not ownership.claimed_here("dag", run_id)
        # Another process cannot take it over while the holder lives.
        ownership.claim("dag", run_id)
        assert not ownership.claimed_here("dag", run_id)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert ownership.holder_died("dag", run_id) is True


def test_a_process_knows_its_own_claims(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    ownership.claim("dag", "run/with:odd chars")
    ownership.claim("dag", "run/with:odd chars")  # a retried task claims again: no error
    assert ownership.claimed_here("dag", "run/with:odd chars")
    assert ownership.holder_died("dag", "run/with:odd chars") is False
    assert ownership.claim_path("dag", "run/with:odd chars").parent == tmp_path / "rnnflow-claims" / "dag"
