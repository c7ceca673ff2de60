"""Classifier training throughput on NSMC, side by side: the lectures' plain recipe against
rnnflow's LSTM fed as before (every batch padded to the split's max_len) and as the train stage
feeds it now (length-bucketed batches, each cut to its own longest row).

    .venv/bin/python benchmarks/classifier_training.py [--features data/processed/features/<key>]
        [--repeats 1] [--lecture-batch-sizes 64,256] [--batch-size N]
        [--variants lectures,padded,bucketed,bucketed-mixed]

``--features`` is the features folder of a ``rnnflow run nsmc --source ../shared/corpora/nsmc``
(MeCab tokens, vocabulary fit on train, max_len at the 95th percentile); without it, the newest
NSMC features folder under ``data/processed/features``.

The lectures' recipe (notebook 16, NSMC LSTM): ``Sequential([Embedding(vocab, 100), LSTM(128),
Dense(1, sigmoid)])``, ids pre-padded and cut to 30 tokens with ``pad_sequences``, rmsprop, no mask,
no validation pass, batch 64 in the notebook (also timed at 256). rnnflow's variants are the
pipeline's own ``lstm`` builder (embedding 100, LSTM 128, masking, dropout) with Adam at the batch
size of ``pipeline/configs/nsmc.yaml`` (``--batch-size`` times another). Each variant trains one
epoch on the whole train split; the clock starts after the first 5 batches (tracing and warm-up)
and stops at the epoch's end. ``bucketed-mixed`` is ``bucketed`` under the policy that
``train.mixed_precision: true`` picks on this machine (bfloat16 on a CPU with AMX or AVX512-BF16).
Repeats are interleaved (every variant once, then again), so that a machine whose speed drifts
slows every variant alike. Prints one line per measurement and a JSON summary of medians and ratios.

Every variant runs on the CPU kernels rnnflow trains with (oneDNN, set by ``pipeline``), the
lectures' too, so the ratios compare recipes, not kernels. ``TF_ENABLE_ONEDNN_OPTS=0`` in the
environment measures Eigen's, which TensorFlow picks by itself on CPUs without AVX512-VNNI,
AVX512-BF16 or AMX (a notebook on such a CPU runs them); the header line says which kernels ran.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

import pipeline  # noqa: F401  (before TensorFlow: it sets the CPU kernels rnnflow trains with)
from pipeline.text.spec import TextSpec

ROOT = Path(__file__).resolve().parents[1]
WARM_UP_BATCHES = 5
LECTURE_MAX_LEN = 30


def newest_nsmc_features() -> Path:
    candidates = []
    for spec in (ROOT / "data" / "processed" / "features").glob("*/text_spec.json"):
        text_spec = TextSpec.read(spec)
        if text_spec.label_names and text_spec.source.tokenizer["name"] == "mecab":
            candidates.append(spec.parent)
    if not candidates:
        raise SystemExit("no NSMC features folder: run `rnnflow run nsmc --source ../shared/corpora/nsmc` first, "
                         "or pass --features")
    return max(candidates, key=lambda path: path.stat().st_mtime)


class EpochClock:
    """Seconds and rows from the end of batch WARM_UP_BATCHES to the end of the epoch."""

    def __init__(self):
        import keras

        clock = self

        class Callback(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if batch == WARM_UP_BATCHES - 1:
                    clock.started = time.perf_counter()
                clock.batches = batch + 1

            def on_epoch_end(self, epoch, logs=None):
                clock.seconds = time.perf_counter() - clock.started

        self.callback = Callback()
        self.started = self.seconds = None
        self.batches = 0


def lecture_model(vocab_size: int):
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(shape=(None,), dtype="int32"), layers.Embedding(vocab_size, 100),
                              layers.LSTM(128), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    return model


def rnnflow_model(vocab_size: int, mixed_precision: bool = False):
    import keras

    from models.config import ModelConfig
    from models.registry import build_classifier
    from models.text_classifier import loss_for
    from pipeline.training.devices import set_precision
    from pipeline.training.fitting import JIT_COMPILE

    set_precision(mixed_precision)
    config = ModelConfig(embedding_dim=100, units=128, dropout_rate=0.3)
    model = build_classifier("lstm", config, vocab_size, 2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss_for(2), metrics=["accuracy"],
                  jit_compile=JIT_COMPILE)
    set_precision(False)
    return model


def lecture_ids(x: np.ndarray) -> np.ndarray:
    """``pad_sequences(ids, maxlen=30)`` of the unpadded rows: pre-padding, pre-truncation."""
    from keras.utils import pad_sequences

    return pad_sequences([row[row != 0] for row in x], maxlen=LECTURE_MAX_LEN)


def samples_per_second(model, data, rows: int, batch_size: int) -> tuple[float, float]:
    clock = EpochClock()
    model.fit(data, epochs=1, verbose=0, callbacks=[clock.callback])
    timed_rows = min(rows, clock.batches * batch_size) - WARM_UP_BATCHES * batch_size
    return timed_rows / clock.seconds, clock.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=Path)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--lecture-batch-sizes", default="64,256")
    parser.add_argument("--variants", default="lectures,padded,bucketed")
    parser.add_argument("--batch-size", type=int, help="rnnflow's batch size (default: nsmc.yaml's)")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from pipeline.config import load_config
    from pipeline.training.devices import cpu_flags, cpu_kernels, mixed_policy
    from pipeline.training.fitting import length_bucketed_dataset

    batch = args.batch_size or load_config("nsmc").train.batch_size

    features = args.features or newest_nsmc_features()
    with np.load(features / "features.npz") as arrays:
        x, y = arrays["x_train"], arrays["y_train"]
    vocab_size = int(json.loads((features / "summary.json").read_text())["vocab_size"])
    lengths = (x != 0).sum(axis=1)
    print(f"features {features}: {len(y):,} train rows, vocab {vocab_size:,}, padded to {x.shape[1]}, "
          f"mean length {lengths.mean():.1f}; TensorFlow's CPU kernels: {cpu_kernels()}")
    variants = args.variants.split(",")
    runs: dict[str, list[float]] = {}

    measurements = []  # (name, make_model, make_data(seed), rows, batch_size)
    if "lectures" in variants:
        short = lecture_ids(x)
        labels = y.astype(np.float32)
        for batch_size in [int(size) for size in args.lecture_batch_sizes.split(",")]:
            measurements.append((f"lectures batch {batch_size}", lambda: lecture_model(vocab_size),
                                 lambda seed, b=batch_size: tf.data.Dataset.from_tensor_slices((short, labels))
                                 .shuffle(len(labels), seed=seed).batch(b).prefetch(tf.data.AUTOTUNE),
                                 len(labels), batch_size))
    if "padded" in variants:
        measurements.append(("rnnflow padded", lambda: rnnflow_model(vocab_size),
                             lambda seed: tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed)
                             .batch(batch).prefetch(tf.data.AUTOTUNE), len(y), batch))
    bucketed = lambda seed: length_bucketed_dataset((x,), y, batch, np.random.default_rng(seed))  # noqa: E731
    if "bucketed" in variants:
        measurements.append(("rnnflow bucketed", lambda: rnnflow_model(vocab_size), bucketed, len(y), batch))
    if "bucketed-mixed" in variants:
        policy = mixed_policy(bool(tf.config.list_logical_devices("GPU")), cpu_flags())
        measurements.append((f"rnnflow bucketed {policy}", lambda: rnnflow_model(vocab_size, mixed_precision=True),
                             bucketed, len(y), batch))

    for repeat in range(args.repeats):
        for name, make_model, make_data, rows, batch_size in measurements:
            keras.utils.set_random_seed(repeat)
            rate, seconds = samples_per_second(make_model(), make_data(repeat), rows, batch_size)
            runs.setdefault(name, []).append(rate)
            print(f"{name:32s} repeat {repeat}: {rate:8,.0f} samples/s ({seconds:.1f} s timed)", flush=True)

    medians = {name: round(statistics.median(rates), 1) for name, rates in runs.items()}
    summary = {"features": str(features), "rows": len(y), "repeats": args.repeats, "rnnflow_batch_size": batch,
               "cpu_kernels": cpu_kernels(), "samples_per_second": medians}
    lectures = {name: rate for name, rate in medians.items() if name.startswith("lectures")}
    summary["ratios"] = {f"{name.removeprefix('rnnflow ')} / {base}": round(rate / base_rate, 2)
                         for name, rate in medians.items() if name.startswith("rnnflow bucketed")
                         for base, base_rate in lectures.items()}
    for name, ratio in summary["ratios"].items():
        print(f"  {name}: {ratio}x")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
