import pytest


@pytest.fixture
def predict_through_pool(monkeypatch):
    """``predict(served, texts)``: the served classifier's answer with the request tokenized by its
    worker pool (checked to have run), the pool closed afterwards."""
    import pipeline.kinds.classification.serving as serving

    monkeypatch.setattr(serving, "PARALLEL_FROM", 10)

    def predict(served, texts):
        pool = served.unwrap_python_model().tokenizer_pool
        try:
            answer = served.predict(texts)
            assert pool._pool is not None  # the request went through the worker processes
        finally:
            pool.close()
        return answer

    return predict
