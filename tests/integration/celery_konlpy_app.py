"""A Celery app for tests/integration/test_celery_konlpy.py, run by a real prefork worker.

The module builds a konlpy tokenizer at import, as DAG or task modules do; the worker's parent
process imports it before forking its pool. That must not start a JVM there: a JVM does not
survive a fork, and a child inheriting one hangs or crashes on its first call.
"""

from __future__ import annotations

import os

from celery import Celery

from pipeline.text.tokenizers import make_tokenizer

app = Celery("rnnflow-konlpy-test", broker=os.environ["RNNFLOW_TEST_BROKER"],
             backend=os.environ["RNNFLOW_TEST_BROKER"])
app.conf.update(worker_prefetch_multiplier=1, task_acks_late=True)

OKT = make_tokenizer("okt")


@app.task
def tokenize(texts: list[str], workers: int) -> dict:
    import jpype

    from pipeline.config import TextConfig
    from pipeline.text.parallel import tokenize_texts

    started_before = jpype.isJVMStarted()
    direct = [OKT.tokenize(text) for text in texts]
    # The pipeline's own path: spawned tokenizer workers started from inside a Celery child.
    config = TextConfig(tokenizer="okt", workers=workers, chunk_size=max(1, len(texts) // workers))
    parallel = tokenize_texts(texts, config, progress=False)
    return {"pid": os.getpid(), "jvm_before": started_before, "jvm_after": jpype.isJVMStarted(),
            "direct": direct, "parallel": parallel}
