"""Where training runs: the distribution strategy and precision for the devices a worker sees.

The same task code runs on a laptop CPU, one GPU or a multi-GPU Celery worker: the default
strategy on CPU or one GPU, ``MirroredStrategy`` over several, mixed precision when asked.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def training_strategy():
    """(strategy, a description for the run's params)."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(), f"MirroredStrategy over {len(gpus)} GPUs"
    return tf.distribute.get_strategy(), ("one GPU" if gpus else "CPU")


def set_precision(mixed: bool) -> str:
    """Keras' global dtype policy; output layers stay float32 (they set their dtype themselves)."""
    import keras

    policy = "mixed_float16" if mixed else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy
