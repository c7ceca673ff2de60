import time

import pytest

from pipeline.config import TextConfig
from pipeline.text.parallel import (
    TokenizerPool,
    cached_tokenize,
    token_cache_key,
    tokenize_texts,
)
from pipeline.text.processor import TextProcessor

TEXTS = ["정말 재밌는 영화였어요!!", "최악... 시간 낭비", "배우 연기가 좋다 ㅋㅋㅋㅋ"] * 7


def test_parallel_equals_serial_in_order():
    serial = tokenize_texts(TEXTS, TextConfig(workers=1, chunk_size=4), progress=False)
    parallel = tokenize_texts(TEXTS, TextConfig(workers=2, chunk_size=4), progress=False)
    assert parallel == serial
    assert serial[0] == " ".join(TextProcessor.from_config(TextConfig()).tokens(TEXTS[0]))


@pytest.mark.slow  # a JVM in each spawned worker: about 15 s
def test_konlpy_in_spawned_workers():
    config = TextConfig(tokenizer="okt", workers=2, chunk_size=5)
    assert tokenize_texts(TEXTS, config, progress=False) == tokenize_texts(
        TEXTS, config.model_copy(update={"workers": 1}), progress=False)


def test_cache_hit_and_key_depends_on_text_config(tmp_path):
    config = TextConfig(workers=1)
    tokens, hit = cached_tokenize(TEXTS, config, "digest", tmp_path, progress=False)
    assert not hit
    again, hit = cached_tokenize(TEXTS, config, "digest", tmp_path, progress=False)
    assert hit and again == tokens
    assert token_cache_key("digest", config) != token_cache_key("digest", TextConfig(keep="hangul"))
    assert token_cache_key("digest", config) != token_cache_key("other", config)


def test_stopwords_are_removed():
    processor = TextProcessor.from_config(TextConfig(stopwords=["영화"]))
    assert "영화" not in processor.tokens("정말 재밌는 영화")


def test_pool_works_under_a_main_script_that_cannot_be_reimported(tmp_path):
    """Under Airflow the main module is the ``airflow`` script, whose import in a task's child
    crashes (no database); spawn re-runs ``__main__`` in every child unless told otherwise."""
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    script = tmp_path / "host_script.py"
    script.write_text(
        "import sys\n"
        "if __name__ != '__main__':\n"
        "    raise SystemExit('the parent script was re-imported in a tokenizer worker')\n"
        "from pipeline.config import TextConfig\n"
        "from pipeline.text.parallel import tokenize_texts\n"
        "texts = ['영화 정말 재미있다', '최악이다'] * 4\n"
        "config = TextConfig(tokenizer='mecab', workers=2, chunk_size=2)\n"
        "print('|'.join(tokenize_texts(texts, config, progress=False)))\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                            cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = TextProcessor.from_config(TextConfig(tokenizer="mecab", workers=1)).joined_tokens(
        ["영화 정말 재미있다", "최악이다"] * 4)
    assert result.stdout.strip().split("|") == expected


def test_a_worker_whose_parent_died_before_it_started_watching_still_exits(tmp_path):
    """On a loaded machine a spawned worker can take many seconds to reach its initializer; a parent
    killed meanwhile (kill -9, OOM) must still take the worker (and its JVM) with it."""
    import subprocess
    import sys

    import psutil

    from tests.conftest import PROJECT_ROOT

    script = tmp_path / "dying_parent.py"
    marker = tmp_path / "watching"
    script.write_text(
        "import multiprocessing, os, sys, time\n"
        "def worker(parent_gone, marker):\n"
        "    parent_gone.wait(60)  # starts watching only once the parent is dead\n"
        "    from pipeline.text.parallel import _exit_with_parent\n"
        "    open(marker, 'w').close()\n"
        "    _exit_with_parent()\n"
        "    time.sleep(60)\n"
        "if __name__ == '__main__':\n"
        "    context = multiprocessing.get_context('spawn')\n"
        "    parent_gone = context.Event()\n"
        "    child = context.Process(target=worker, args=(parent_gone, sys.argv[1]))\n"
        "    child.start()\n"
        "    print(child.pid, flush=True)\n"
        "    time.sleep(1)\n"
        "    parent_gone.set()\n"
        "    os._exit(0)  # as kill -9 would: no cleanup, no join\n")
    # Not subprocess.run: the worker inherits the pipe, so reading to its end would wait for the worker.
    parent = subprocess.Popen([sys.executable, str(script), str(marker)], stdout=subprocess.PIPE, text=True,
                              cwd=PROJECT_ROOT)
    pid = int(parent.stdout.readline())
    assert parent.wait(timeout=60) == 0
    parent.stdout.close()

    def running() -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + 30
    while running() and time.monotonic() < deadline:
        time.sleep(0.2)
    if running():
        psutil.Process(pid).kill()
        pytest.fail("the worker outlived its parent by 30 s")
    assert marker.exists(), "the worker died before it reached the watcher: the test proved nothing"


def test_a_standing_pool_streams_chunks_in_order_and_is_reused():
    config = TextConfig(tokenizer="mecab")
    texts = [f"영화가 정말 재밌어요 {i}번째" if i % 7 else "" for i in range(1_030)]
    serial = TextProcessor.from_config(config)
    pool = TokenizerPool(config, workers=2)
    try:
        chunks = list(pool.chunks(texts, 250))
        assert [len(chunk) for chunk in chunks] == [250, 250, 250, 250, 30]
        assert [tokens for chunk in chunks for tokens in chunk] == [serial.tokens(text) for text in texts]
        first = pool._pool
        assert len(first._processes) == 2  # all started with the pool, none later outside its set-up
        assert list(pool.chunks(texts[:3], 250)) == [[serial.tokens(text) for text in texts[:3]]]
        assert pool._pool is first  # the workers stay up between requests
    finally:
        pool.close()


def test_a_pool_for_words_starts_its_workers_as_models_logged_before_pieces_expect():
    """A loaded model's workers may run the model's own older copy of this module, whose initializer
    takes the text config alone: a word-level pool must pass just that."""
    config = TextConfig(tokenizer="mecab")
    assert TokenizerPool(config).worker_args == (config.model_dump(mode="json"),)
    assert TokenizerPool(config, subwords=b"model").worker_args == (config.model_dump(mode="json"), b"model")
