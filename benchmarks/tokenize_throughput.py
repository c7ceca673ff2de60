"""Tokenization throughput on the full NSMC corpus (200k reviews), cold and from the cache.

    .venv/bin/python benchmarks/tokenize_throughput.py [--corpus ../shared/corpora/nsmc]
        [--tokenizer mecab] [--workers N] [--repeats 3]

Prints one line per measurement and a JSON summary with medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from pipeline.config import TextConfig
from pipeline.corpora.readers import nsmc
from pipeline.text.parallel import cached_tokenize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(Path(__file__).resolve().parents[1].parent / "shared/corpora/nsmc"))
    parser.add_argument("--tokenizer", default="mecab")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N reviews only (slow taggers)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    texts: list[str] = []
    for name in nsmc.SPLIT_FILES.values():
        frame, _ = nsmc.parse_file(Path(args.corpus) / name)
        texts.extend(frame["text"].tolist())
    texts = texts[: args.limit] if args.limit else texts
    config = TextConfig(tokenizer=args.tokenizer, workers=args.workers)
    cold, warm = [], []
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache_dir:
            start = time.perf_counter()
            _, hit = cached_tokenize(texts, config, "bench", Path(cache_dir), progress=False)
            cold.append(time.perf_counter() - start)
            assert not hit
            start = time.perf_counter()
            _, hit = cached_tokenize(texts, config, "bench", Path(cache_dir), progress=False)
            warm.append(time.perf_counter() - start)
            assert hit
        print(f"run {repeat + 1}: cold {cold[-1]:.2f} s ({len(texts) / cold[-1]:,.0f} sent/s), "
              f"cache {warm[-1]:.3f} s", flush=True)
    summary = {
        "tokenizer": args.tokenizer, "workers": config.workers or "all cores", "sentences": len(texts),
        "cold_seconds_median": round(statistics.median(cold), 3),
        "cold_sentences_per_second_median": round(len(texts) / statistics.median(cold)),
        "cache_seconds_median": round(statistics.median(warm), 3),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
