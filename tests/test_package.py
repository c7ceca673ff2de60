"""pipeline/__init__.py: every process that imports rnnflow's library gets its TensorFlow CPU kernels."""

from __future__ import annotations

import os
import subprocess
import sys

# A new interpreter each time: TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, when it loads.
PROBE = ("import os, pipeline; from pipeline.training.devices import cpu_kernels; "
         "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], cpu_kernels())")


def kernels_after_importing_pipeline(onednn_setting: str | None) -> list[str]:
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    if onednn_setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = onednn_setting
    probe = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr[-2000:]
    return probe.stdout.split()


def test_importing_pipeline_before_tensorflow_turns_on_onednn_whatever_the_cpu():
    assert kernels_after_importing_pipeline(None) == ["1", "oneDNN"]


def test_a_user_who_keeps_tensorflow_on_eigen_is_left_alone():
    assert kernels_after_importing_pipeline("0") == ["0", "Eigen"]
