"""Where training runs: the distribution strategy and precision for the devices a worker sees.

The same task code runs on a laptop CPU, one GPU or a multi-GPU Celery worker: the default
strategy on CPU or one GPU, ``MirroredStrategy`` over several, mixed precision when asked.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def training_strategy():
    """(strategy, a description for the run's params)."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(), f"MirroredStrategy over {len(gpus)} GPUs"
    return tf.distribute.get_strategy(), ("one GPU" if gpus else f"CPU ({cpu_kernels()} kernels)")


def cpu_kernels() -> str:
    """The CPU kernels this process's TensorFlow runs: "oneDNN" or "Eigen". ``pipeline`` asks for
    oneDNN (its ``__init__``); a process that imported TensorFlow first, or that set
    ``TF_ENABLE_ONEDNN_OPTS=0``, may have Eigen, which trains slower and rounds differently."""
    from tensorflow.python.util import (
        _pywrap_util_port,  # TensorFlow's own check; no public API has it
    )

    return "oneDNN" if _pywrap_util_port.IsMklEnabled() else "Eigen"


# CPU flags (Linux /proc/cpuinfo) that run bfloat16 matrix products natively: Intel AMX and
# AVX512-BF16 (Cooper Lake, Sapphire Rapids and later; AMD Zen 4 and later).
BFLOAT16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The first CPU's feature flags; empty where there is no /proc/cpuinfo (macOS, Windows)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def mixed_policy(has_gpu: bool, flags: set[str]) -> str:
    """The mixed Keras policy these devices run faster, or float32 when they have none: float16 on
    a GPU, bfloat16 on a CPU with bfloat16 units (TensorFlow's mixed-precision guide: "more than 2
    times on latest Intel CPUs"). float16 on a CPU, or bfloat16 without those units, is emulated:
    slower than float32, so a config that asks for mixed precision trains in float32 there."""
    if has_gpu:
        return "mixed_float16"
    if flags & BFLOAT16_CPU_FLAGS:
        return "mixed_bfloat16"
    return "float32"


def set_precision(mixed: bool) -> str:
    """Keras' global dtype policy; output layers stay float32 (they set their dtype themselves)."""
    import keras
    import tensorflow as tf

    policy = "float32"
    if mixed:
        policy = mixed_policy(bool(tf.config.list_logical_devices("GPU")), cpu_flags())
        if policy == "float32":
            log.warning("train.mixed_precision: no GPU, and this CPU has no bfloat16 instructions (%s): "
                        "training in float32", ", ".join(sorted(BFLOAT16_CPU_FLAGS)))
    keras.mixed_precision.set_global_policy(policy)
    return policy


def cudnn_problems() -> list[str]:
    """Each LSTM/GRU layer of every architecture that Keras would not run on cuDNN, and why.

    Keras takes the cuDNN kernel only for tanh / sigmoid activations, no recurrent dropout, no
    unroll, a bias, and (GRU) ``reset_after`` (keras.layers.LSTM and GRU docs); a model that misses
    one trains several times slower on a GPU, silently. SimpleRNN has no cuDNN kernel at all."""
    import keras
    from keras import layers

    from models.config import ModelConfig
    from models.registry import architectures, build_classifier, build_translator

    config = ModelConfig(embedding_dim=8, units=4, conv_filters=4, attention_units=4)
    built = [(name, build_classifier(name, config, vocab_size=30, num_classes=3))
             for name in architectures("classifiers") if name != "simple_rnn"]
    built += [(name, build_translator(name, config.model_copy(update={"bidirectional_encoder": True}), 30, 40))
              for name in architectures("translators")]
    problems = []
    for name, model in built:
        recurrent = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
                     if isinstance(layer, (layers.LSTM, layers.GRU))]
        if not recurrent:
            problems.append(f"{name}: no LSTM or GRU layer")
        for layer in recurrent:
            checks = {"activation is tanh": layer.activation is keras.activations.tanh,
                      "recurrent_activation is sigmoid": layer.recurrent_activation is keras.activations.sigmoid,
                      "recurrent_dropout is 0": layer.cell.recurrent_dropout == 0,
                      "not unrolled": not layer.unroll, "uses a bias": layer.cell.use_bias}
            if isinstance(layer, layers.GRU):
                checks["reset_after"] = layer.cell.reset_after
            problems += [f"{name}/{layer.name}: not {what}" for what, ok in checks.items() if not ok]
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.training.devices --check-recurrent-layers``: run in each image at build time."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pipeline.training.devices")
    parser.add_argument("--check-recurrent-layers", action="store_true",
                        help="exit 1 unless every LSTM/GRU layer is cuDNN-eligible")
    args = parser.parse_args(argv)
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__}, built with CUDA: {tf.test.is_built_with_cuda()}, "
          f"GPUs visible: {len(tf.config.list_physical_devices('GPU'))}, CPU kernels: {cpu_kernels()}")
    if args.check_recurrent_layers:
        problems = cudnn_problems()
        for problem in problems:
            print(f"not cuDNN-eligible: {problem}")
        if problems:
            return 1
        print("every LSTM/GRU layer of every architecture is cuDNN-eligible")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
