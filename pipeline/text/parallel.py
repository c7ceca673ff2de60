"""Tokenize a corpus on every core, with progress, cached by content.

Workers are spawned, never forked: a konlpy JVM (or any native state) in the parent must not be
inherited, and each worker starts its own tokenizer (and JVM) in its initializer.
The pool must also start inside Airflow task processes and Celery prefork workers, which the
standard library's spawn does not handle on its own: see ``_spawn_anywhere``.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import sys
import threading
import time
import types
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from pipeline.config import TextConfig
from pipeline.io import atomic_path, digest_strings
from pipeline.progress import bar as progress_bar
from pipeline.text.processor import TextProcessor

log = logging.getLogger(__name__)

_worker_processor: TextProcessor | None = None
_worker_subwords = None  # a SubwordModel when the tokens are split into pieces (TokenizerPool's subwords)


def _init_worker(text_config: dict, subword_model: bytes | None = None) -> None:
    global _worker_processor, _worker_subwords
    _exit_with_parent()
    _worker_processor = TextProcessor.from_config(TextConfig.model_validate(text_config))
    if subword_model is not None:
        from pipeline.text.subword import SubwordModel

        _worker_subwords = SubwordModel(subword_model)


def _exit_with_parent() -> None:
    """End this pool worker as soon as the process that started it is gone.

    A pool is shut down when its ``with`` block ends, but a parent that never gets there (kill -9,
    an OOM kill, a crash) would leave its workers tokenizing for minutes, each holding a JVM of a
    gigabyte. A daemon thread waits on the parent's sentinel, a pipe multiprocessing keeps open in
    the parent for the worker's life and the kernel closes when the parent dies, so a parent that
    died before this worker got here (a slow start on a loaded machine) is seen at once; the parent
    pid read here would already be the new parent's. (The kernel's PR_SET_PDEATHSIG would fire when
    the parent *thread* ends, which a serving thread pool does routinely.)"""
    sentinel = multiprocessing.parent_process().sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _tokenize_chunk(texts: Sequence[str]) -> list[str]:
    joined = _worker_processor.joined_tokens(texts)
    if _worker_subwords is None:
        return joined
    return [" ".join(_worker_subwords.pieces(line.split(" ") if line else [])) for line in joined]


@contextlib.contextmanager
def _spawn_anywhere():
    """Make the spawned tokenizer pool work whatever process hosts it, for the pool's lifetime.

    - The spawn method re-runs the parent's ``__main__`` in every child. Under Airflow that is the
      ``airflow`` script, whose import configures Airflow's ORM, and in a task process (which has
      no database connection) it crashes the child. The workers need nothing from ``__main__``
      (their functions live in this module), so the children get an empty one.
    - billiard (Celery's prefork pool, Airflow's CeleryExecutor) marks its children daemonic, and
      multiprocessing forbids children of daemons so that none outlive a parent killed at exit;
      here the pool is joined before the ``with`` block ends, and a spawned worker whose parent
      dies exits when its pipe closes.
    - billiard also leaves its own AuthenticationString as the process' authkey, which spawn
      refuses to pickle; the same key as the standard library's type goes instead.
    ``ProcessPoolExecutor`` starts all its spawn workers at the first submit, inside this block.
    """
    config = multiprocessing.process.current_process()._config
    saved = {key: config[key] for key in ("daemon", "authkey") if key in config}
    if config.get("daemon"):
        log.info("tokenizing in a daemonic process (e.g. a Celery worker): allowing its pool's children")
        config["daemon"] = False
    authkey = config.get("authkey")
    if authkey is not None and type(authkey) is not multiprocessing.process.AuthenticationString:
        config["authkey"] = multiprocessing.process.AuthenticationString(bytes(authkey))
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main
        config.update(saved)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def tokenize_texts(texts: Sequence[str], config: TextConfig, progress: bool = True) -> list[str]:
    """Space-joined tokens for each text, in order, using ``config.workers`` processes."""
    workers = config.workers or default_workers()
    chunk = config.chunk_size
    chunks = [texts[i: i + chunk] for i in range(0, len(texts), chunk)]
    bar = progress_bar(len(texts) if progress else 0, f"tokenize ({config.tokenizer} x{workers})", unit="text")
    results: list[str] = []
    if workers == 1 or len(chunks) == 1:
        processor = TextProcessor.from_config(config)
        for part in chunks:
            results.extend(processor.joined_tokens(part))
            bar.update(len(part))
    else:
        context = multiprocessing.get_context("spawn")
        with _spawn_anywhere(), ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                                      initargs=(config.model_dump(mode="json"),)) as pool:
            for part in pool.map(_tokenize_chunk, chunks):
                results.extend(part)
                bar.update(len(part))
    bar.close()
    return results


def token_cache_key(table_digest: str, config: TextConfig) -> str:
    """The table's digest + everything that changes tokens: cleaning, tokenizer identity, code version."""
    identity = TextProcessor.from_config(config).identity()
    return digest_strings(table_digest, repr(sorted(identity.items())))


def cached_tokenize(texts: Sequence[str], config: TextConfig, table_digest: str, cache_dir: Path,
                    progress: bool = True) -> tuple[list[str], bool]:
    """Tokens for ``texts`` from ``cache_dir`` if this exact work was done before; else do it.

    Returns (tokens, cache_hit).
    """
    path = Path(cache_dir) / f"{token_cache_key(table_digest, config)}.parquet"
    if path.is_file():
        tokens = pd.read_parquet(path)["tokens"].tolist()
        if len(tokens) == len(texts):
            log.info("token cache hit: %s", path)
            return tokens, True
        log.warning("token cache %s has %d rows for %d texts; recomputing", path, len(tokens), len(texts))
    tokens = tokenize_texts(texts, config, progress=progress)
    with atomic_path(path) as tmp:
        pd.DataFrame({"tokens": tokens}).to_parquet(tmp, index=False)
    return tokens, False


class TokenizerPool:
    """Standing tokenizer processes for a loaded model: started on the first large batch, reused by
    every later one. ``chunks`` yields each chunk's tokens in order as soon as it is ready, so the
    caller runs the model on one chunk while the workers tokenize the next (MeCab holds the GIL:
    threads would not help). With ``subwords`` (a sentencepiece model's bytes) the workers also split
    the tokens into pieces, so that work overlaps the model too."""

    def __init__(self, config: TextConfig, workers: int | None = None, subwords: bytes | None = None):
        self.config = config
        self.workers = workers or config.workers or default_workers()
        self.subwords = subwords
        self._pool: ProcessPoolExecutor | None = None

    @property
    def worker_args(self) -> tuple:
        """``_init_worker``'s arguments. Without pieces, only the config, as before pieces: a process
        that imported this checkout and loads a model logged earlier spawns workers running the
        model's own (older) copy of this module, whose ``_init_worker`` takes the config alone."""
        config = self.config.model_dump(mode="json")
        return (config,) if self.subwords is None else (config, self.subwords)

    def chunks(self, texts: Sequence[str], chunk_size: int):
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            with _spawn_anywhere():
                self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker,
                                                 initargs=self.worker_args)
                # A spawn pool starts workers on demand, at a submit that finds none idle: one busy
                # task per worker starts them all now, inside the context, not at a later request.
                for started in [self._pool.submit(time.sleep, 0.2) for _ in range(self.workers)]:
                    started.result()
            atexit.register(self.close)  # before interpreter teardown, where the pool's own cleanup fails
        parts = [texts[i: i + chunk_size] for i in range(0, len(texts), chunk_size)]
        for joined in self._pool.map(_tokenize_chunk, parts):
            yield [line.split(" ") if line else [] for line in joined]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
