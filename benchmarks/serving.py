"""Serving speed of a registered raw-text classifier, in process and over HTTP, on NSMC test texts.

    .venv/bin/python benchmarks/serving.py [--model nsmc-sentiment@champion] [--corpus ../shared/corpora/nsmc]
        [--repeats 3] [--requests 500] [--no-http]

Prints where the in-process time goes (tokenizing, id encoding, the Keras forward pass, the
rest), then the three figures the serving targets are about, with the targets beside them:
sentences/s in process on batches of 20,000; one-sentence HTTP latency p50/p95 over --requests
sequential requests on a kept-alive connection; HTTP sentences/s on batches of 5,000. The HTTP
figures come from the real MLflow scoring server, started with `rnnflow serve` and stopped by its
process group. Ends with a JSON line of every figure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"in_process_sentences_per_second": (">=", 10_000), "http_single_p50_ms": ("<=", 20.0),
           "http_single_p95_ms": ("<=", 40.0), "http_batch_sentences_per_second": (">=", 5_000)}


def nsmc_test_texts(corpus: Path) -> list[str]:
    from pipeline.corpora.readers import nsmc

    frame, _ = nsmc.parse_file(corpus / nsmc.SPLIT_FILES["test"])
    return [text for text in frame["text"].tolist() if text.strip()]


def timed(function, repeats: int) -> float:
    """Median seconds of ``repeats`` calls (after one warm-up call)."""
    function()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def in_process(model_uri: str, texts: list[str], repeats: int) -> dict:
    import mlflow.pyfunc

    batch = texts[:20_000]
    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(model_uri)
    load_seconds = time.perf_counter() - started
    inner = model.unwrap_python_model()
    total = timed(lambda: model.predict(batch), repeats)
    figures = {"batch": len(batch), "load_seconds": round(load_seconds, 2),
               "in_process_sentences_per_second": round(len(batch) / total, 1), "predict_seconds": round(total, 3)}
    # Where the time goes, piece by piece, on the same batch.
    if getattr(inner, "keras_model", None) is not None:
        tokens = [inner.processor.tokens(text) for text in batch]
        figures["tokenize_seconds"] = round(timed(lambda: [inner.processor.tokens(t) for t in batch], repeats), 3)
        if hasattr(inner, "forwards"):  # length buckets, compiled forward pass
            encode, forward = inner.ids_of, inner.forwards[0]
        else:  # before: ids padded to max_len, keras predict (kept to measure the change against)
            encode, forward = inner.encode, lambda ids: inner.keras_model.predict(ids, batch_size=256, verbose=0)
        figures["encode_seconds"] = round(timed(lambda: encode(tokens), repeats), 3)
        ids = encode(tokens)
        figures["keras_seconds"] = round(timed(lambda: forward(ids), repeats), 3)
        figures["rest_seconds"] = round(total - figures["tokenize_seconds"] - figures["encode_seconds"]
                                        - figures["keras_seconds"], 3)
        figures["max_len"] = int(inner.max_len)
    return figures


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(connection: http.client.HTTPConnection, texts: list[str]) -> list:
    body = json.dumps({"inputs": texts}, ensure_ascii=False).encode()
    connection.request("POST", "/invocations", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {payload[:300]!r}")
    return json.loads(payload)["predictions"]


def over_http(ref: str, texts: list[str], requests: int, repeats: int) -> dict:
    port = free_port()
    log = open(ROOT / ".benchmark-serve.log", "wb")
    server = subprocess.Popen([str(Path(sys.executable).parent / "rnnflow"), "serve", ref, "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                connection.request("GET", "/ping")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the scoring server did not start; see {log.name}")
            time.sleep(1)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        for text in texts[:20]:  # warm-up
            post(connection, [text])
        latencies = []
        for text in texts[:requests]:
            started = time.perf_counter()
            post(connection, [text])
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        batch = texts[:5_000]
        batch_seconds = timed(lambda: post(connection, batch), repeats)
        return {"http_requests": len(latencies),
                "http_single_p50_ms": round(latencies[len(latencies) // 2], 2),
                "http_single_p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 2),
                "http_batch": len(batch), "http_batch_seconds": round(batch_seconds, 3),
                "http_batch_sentences_per_second": round(len(batch) / batch_seconds, 1)}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="nsmc-sentiment@champion", help="NAME@alias or NAME/VERSION")
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpora" / "nsmc"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--no-http", action="store_true", help="the in-process figures only")
    args = parser.parse_args()

    from pipeline.cli.env import configure_environment

    configure_environment()
    texts = nsmc_test_texts(Path(args.corpus))
    name, _, alias = args.model.partition("@")
    model_uri = f"models:/{name}@{alias}" if alias else f"models:/{args.model}"
    figures = {"model": args.model, "texts": len(texts), **in_process(model_uri, texts, args.repeats)}
    print(f"in process: {figures['in_process_sentences_per_second']:,.0f} sentences/s on {figures['batch']:,} texts "
          f"({figures['predict_seconds']} s; model load {figures['load_seconds']} s)")
    if "keras_seconds" in figures:
        print(f"  where the time goes: tokenize {figures['tokenize_seconds']} s, encode {figures['encode_seconds']} s, "
              f"keras {figures['keras_seconds']} s, rest {figures['rest_seconds']} s (max_len {figures['max_len']})")
    if not args.no_http:
        figures.update(over_http(args.model, texts, args.requests, args.repeats))
        print(f"http: one sentence p50 {figures['http_single_p50_ms']} ms, p95 {figures['http_single_p95_ms']} ms "
              f"over {figures['http_requests']} requests; batches of {figures['http_batch']:,}: "
              f"{figures['http_batch_sentences_per_second']:,.0f} sentences/s")
    for key, (op, target) in TARGETS.items():
        if key in figures:
            met = figures[key] >= target if op == ">=" else figures[key] <= target
            print(f"  {key:36s} {figures[key]:>10} target {op} {target}: {'met' if met else 'NOT MET'}")
    print(json.dumps(figures))


if __name__ == "__main__":
    sys.exit(main())
