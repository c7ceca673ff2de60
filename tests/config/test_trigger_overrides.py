"""What a DAG trigger form may change: training settings, yes; where data is written or read, the
tracking server, the registered model and trusted checksums, no. The CLI's own runs may set anything."""

from __future__ import annotations

import pytest

from pipeline.config import ConfigError, load_config
from pipeline.names import SOURCE_ROOTS_ENV, TRUSTED_OVERRIDES_ENV
from pipeline.orchestration.tasks import check_trigger_overrides, overrides_from_params


@pytest.fixture
def untrusted(monkeypatch):
    monkeypatch.delenv(TRUSTED_OVERRIDES_ENV, raising=False)
    monkeypatch.delenv(SOURCE_ROOTS_ENV, raising=False)


def _check(params: dict) -> None:
    overrides = overrides_from_params(params)
    check_trigger_overrides(overrides, load_config("nsmc", overrides))


@pytest.mark.parametrize("item", ["tracking.tracking_uri=http://elsewhere:5000", "data_root=/tmp/anywhere",
                                  "registry.model_name=other", "corpus.sha256={ratings_train.txt: abc}",
                                  "corpus.urls={ratings_train.txt: http://evil/x}", "batch.outbox=/etc",
                                  "tracking.experiment=x", "tune.storage=postgresql://evil/db"])
def test_a_trigger_cannot_redirect_a_run(untrusted, item):
    field = item.split("=")[0]
    with pytest.raises(ConfigError, match=rf"DAG params may not set \['{field}'\]"):
        _check({"overrides": [item]})


@pytest.mark.parametrize("item", ["dag.schedule=null", "dag={tags: [x]}", "batch.schedule='@daily'", "batch.enabled=false",
                                  "tune.parallel=4", "tune={trials: 4, parallel: 4}"])
@pytest.mark.parametrize("trusted", [False, True])
def test_fields_read_when_the_dag_file_is_parsed_are_not_overridden_by_a_run(monkeypatch, item, trusted):
    """A trigger's or the CLI's override of them would change nothing (the DAG is parsed from the
    pipeline file): one error that names the field and the file instead."""
    monkeypatch.setenv(TRUSTED_OVERRIDES_ENV, "1") if trusted else monkeypatch.delenv(TRUSTED_OVERRIDES_ENV, raising=False)
    field = item.split("=")[0]
    with pytest.raises(ConfigError, match=rf"^{field}: read when the DAG file is parsed.*set it in .*nsmc\.yaml$"):
        _check({"overrides": [item]})


def test_several_fields_read_when_the_dag_file_is_parsed_are_named_in_one_error(untrusted):
    with pytest.raises(ConfigError, match=r"^batch.schedule, tune.parallel: read when the DAG file is parsed, so a "
                                          r"run's overrides cannot change these fields; set them in .*nsmc\.yaml$"):
        _check({"overrides": ["tune.parallel=4", "batch.schedule='@daily'", "train.epochs=2"]})


def test_a_trigger_tunes_training(untrusted):
    _check({"epochs": 3, "tokenizer": "okt", "models": ["gru"],
            "overrides": ["text.min_freq=3", "train.batch_size=64", "validation.test_oov_rate.error=0.5",
                          "registry.alpha=0.01", "corpus.max_rows_per_split=100", "tune.trials=4",
                          "tune.timeout_minutes=30"]})


def test_a_trigger_reads_corpora_only_under_the_data_root_and_the_source_roots(untrusted, monkeypatch, tmp_path):
    config = load_config("nsmc")
    _check({"source": str(config.data_dir() / "raw" / "nsmc")})
    with pytest.raises(ConfigError, match=r"DAG param corpus.source: '/etc' is outside the corpus folders"):
        _check({"source": "/etc"})
    with pytest.raises(ConfigError, match="outside the corpus folders"):
        _check({"source": str(config.data_dir() / ".." / ".." / "etc")})  # no way out through '..'
    monkeypatch.setenv(SOURCE_ROOTS_ENV, str(tmp_path))
    _check({"source": str(tmp_path / "nsmc")})


def test_the_cli_process_is_trusted(monkeypatch):
    monkeypatch.setenv(TRUSTED_OVERRIDES_ENV, "1")
    _check({"overrides": ["data_root=/tmp/anywhere", "tracking.experiment=mine"], "source": "/etc"})
