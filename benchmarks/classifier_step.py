"""Where a classifier's training step spends its time: milliseconds per ``fit`` step of rnnflow's
LSTM and the lectures' model on fixed batches of random ids, one shape at a time.

    .venv/bin/python benchmarks/classifier_step.py [--shapes 256x1,256x20,64x30,1024x20]
        [--variants rnnflow,lectures,frozen-embedding,sgd] [--steps 60] [--vocab 14702]

Each shape is ``rows x tokens``; every step trains on the same batch (no input pipeline), and the
median and minimum of the steps after the first 10 are printed. ``frozen-embedding`` is rnnflow's
LSTM with the embedding not trained (no embedding gradient or update), ``sgd`` the same LSTM under
plain SGD instead of Adam (no optimizer moments). The step's time at 1 token against 20 splits it
into a per-batch part (embedding gradient, optimizer update, the fit loop) and a per-token part
(the recurrence); a variant that shortens only the first cannot speed up long batches much.
Models are those of ``classifier_training.py``. Prints one line per measurement and a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from classifier_training import lecture_model, rnnflow_model

import pipeline  # noqa: F401  (before TensorFlow: it sets the CPU kernels rnnflow trains with)

SKIPPED_STEPS = 10  # tracing and warm-up
VARIANTS = ("rnnflow", "lectures", "frozen-embedding", "sgd")


def make_model(variant: str, vocab_size: int):
    import keras

    if variant == "lectures":
        return lecture_model(vocab_size)
    model = rnnflow_model(vocab_size)
    if variant == "rnnflow":
        return model
    if variant == "frozen-embedding":
        next(layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)).trainable = False
        optimizer = keras.optimizers.Adam(1e-3)
    elif variant == "sgd":
        optimizer = keras.optimizers.SGD(1e-3)
    else:
        raise ValueError(f"unknown variant {variant!r}")
    model.compile(optimizer=optimizer, loss=model.loss, jit_compile=False)  # trainable changes need a recompile
    return model


def step_milliseconds(model, rows: int, tokens: int, steps: int, vocab_size: int) -> np.ndarray:
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(0)
    ids = rng.integers(1, vocab_size, size=(rows, tokens)).astype(np.int32)
    labels = rng.integers(0, 2, size=(rows,)).astype(np.float32)
    ends: list[float] = []

    class StepEnds(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.perf_counter())

    model.fit(tf.data.Dataset.from_tensors((ids, labels)).repeat(steps), epochs=1, verbose=0,
              callbacks=[StepEnds()])
    return np.diff(ends[SKIPPED_STEPS:]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="256x1,256x20,64x30,1024x20")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--vocab", type=int, default=14_702, help="vocabulary size (the default NSMC run's)")
    args = parser.parse_args()
    if args.steps <= SKIPPED_STEPS + 1:
        raise SystemExit(f"--steps: at least {SKIPPED_STEPS + 2} (the first {SKIPPED_STEPS} are not timed)")
    try:
        shapes = [(int(rows), int(tokens)) for rows, tokens in (shape.split("x") for shape in args.shapes.split(","))]
    except ValueError:
        raise SystemExit(f"--shapes: expected rows x tokens like 256x20, got {args.shapes!r}") from None
    variants = args.variants.split(",")
    if unknown := sorted(set(variants) - set(VARIANTS)):
        raise SystemExit(f"--variants: unknown {', '.join(unknown)} (known: {', '.join(VARIANTS)})")

    import keras

    from pipeline.training.devices import cpu_kernels

    print(f"vocab {args.vocab:,}, {args.steps} steps per shape; TensorFlow's CPU kernels: {cpu_kernels()}")
    summary: dict[str, dict[str, float]] = {}
    for variant in variants:
        for rows, tokens in shapes:
            keras.utils.set_random_seed(0)
            milliseconds = step_milliseconds(make_model(variant, args.vocab), rows, tokens, args.steps, args.vocab)
            median = float(np.median(milliseconds))
            summary.setdefault(variant, {})[f"{rows}x{tokens}"] = round(median, 2)
            print(f"{variant:18s} {rows:5d} rows x {tokens:3d} tokens: median {median:7.2f} ms, "
                  f"min {milliseconds.min():7.2f} ms, {rows / median * 1000:8,.0f} rows/s", flush=True)
    print(json.dumps({"cpu_kernels": cpu_kernels(), "vocab": args.vocab, "median_ms_per_step": summary}))


if __name__ == "__main__":
    main()
