"""Seq2seq training throughput: batches padded to the split's maximum length against the
length-bucketed, per-batch-trimmed batches the train stage feeds (pipeline.train).

    .venv/bin/python benchmarks/seq2seq_train_step.py [--features data/processed/features/<key>]
        [--arch seq2seq_luong] [--batch-size 256] [--steps 24] [--repeats 3]

Without --features the rows are synthetic, with fra-eng's measured shape: source vocabulary 5,053,
target 8,818, padded lengths 8 and 11, and fra-eng's target-length histogram. Each repeat trains a
fresh model on the same ``--steps`` batches of each kind after 3 warm-up steps, and times the rows
per second. Prints one line per measurement and a JSON summary with medians and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from pipeline.config import load_config
from pipeline.training.fitting import length_bucketed_dataset

# fra-eng (fra.txt, 60,741 train pairs): rows per target length (with <eos>), 3..11.
FRA_ENG_TARGET_LENGTHS = {3: 449, 4: 2650, 5: 8519, 6: 13372, 7: 14262, 8: 10942, 9: 6197, 10: 2766, 11: 1584}


def synthetic_split(rows: int, rng: np.random.Generator):
    lengths = np.array(list(FRA_ENG_TARGET_LENGTHS))
    weights = np.array(list(FRA_ENG_TARGET_LENGTHS.values()), dtype=float)
    target_lengths = rng.choice(lengths, size=rows, p=weights / weights.sum())
    source_lengths = np.clip(target_lengths - 1 + rng.integers(-1, 2, size=rows), 1, 8)
    source = np.zeros((rows, 8), np.int32)
    decoder_out = np.zeros((rows, 11), np.int32)
    for row in range(rows):
        source[row, :source_lengths[row]] = rng.integers(4, 5053, source_lengths[row])
        decoder_out[row, :target_lengths[row]] = rng.integers(4, 8818, target_lengths[row])
    decoder_in = np.zeros_like(decoder_out)
    decoder_in[:, 0] = 2
    decoder_in[:, 1:] = np.where(decoder_out[:, 1:] != 0, decoder_out[:, :-1], 0)
    return (source, decoder_in, decoder_out), 5053, 8818


def real_split(features_dir: Path):
    with np.load(features_dir / "features.npz") as arrays:
        split = (arrays["x_train"], arrays["decoder_in_train"], arrays["decoder_out_train"])
    summary = json.loads((features_dir / "summary.json").read_text())
    return split, summary["source_vocab_size"], summary["target_vocab_size"]


def padded_batches(split, batch_size: int, rng: np.random.Generator):
    order = rng.permutation(len(split[0]))
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        yield (split[0][index], split[1][index]), split[2][index]


def rows_per_second(arch: str, batches: list, source_vocab: int, target_vocab: int) -> float:
    import keras

    from pipeline.kinds.translation.training import build_and_compile

    keras.utils.set_random_seed(0)
    config = load_config("aihub_translation", {"model.embedding_dim": 128, "model.units": 256,
                                               "model.dropout_rate": 0.2})
    model = build_and_compile(config, arch, source_vocab, target_vocab)
    for x, y in batches[:3]:
        model.train_on_batch(x, y)
    timed = batches[3:]
    start = time.perf_counter()
    for x, y in timed:
        model.train_on_batch(x, y)
    return sum(len(y) for _, y in timed) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=Path, default=None, help="a translation features directory")
    parser.add_argument("--arch", default="seq2seq_luong")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    if args.features:
        split, source_vocab, target_vocab = real_split(args.features)
    else:
        split, source_vocab, target_vocab = synthetic_split(args.batch_size * (args.steps + 3) * 4, rng)
    count = args.steps + 3
    padded = [batch for _, batch in zip(range(count), padded_batches(split, args.batch_size, rng))]
    bucketed = [((x[0].numpy(), x[1].numpy()), y.numpy()) for x, y in
                length_bucketed_dataset(split[:2], split[2], args.batch_size, rng).take(count)]
    results = {"padded": [], "bucketed": []}
    for repeat in range(args.repeats):
        for kind, batches in (("padded", padded), ("bucketed", bucketed)):
            speed = rows_per_second(args.arch, batches, source_vocab, target_vocab)
            results[kind].append(speed)
            mean_width = np.mean([y.shape[1] for _, y in batches])
            print(f"repeat {repeat + 1} {kind:8s} {args.arch}: {speed:7.1f} rows/s "
                  f"(mean target width {mean_width:.2f})", flush=True)
    medians = {kind: statistics.median(speeds) for kind, speeds in results.items()}
    print(json.dumps({"arch": args.arch, "batch_size": args.batch_size, "steps": args.steps,
                      "median_rows_per_second": {k: round(v, 1) for k, v in medians.items()},
                      "speedup": round(medians["bucketed"] / medians["padded"], 2)}))


if __name__ == "__main__":
    main()
