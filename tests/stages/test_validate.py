"""Data validation: the statistics, the limits, the report, and drift against a real MLflow champion."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from pipeline.checks.report import (
    ERROR,
    OK,
    WARN,
    DataValidationError,
    binned,
    chi_square_p,
    judge,
    length_profile,
    psi,
    robust_outliers,
)
from pipeline.config import Limit, ValidationConfig, load_config, validate_config
from pipeline.stages.ingest import run_ingest
from pipeline.stages.validate import run_validation


def test_psi_is_zero_for_the_same_mix_and_large_for_a_moved_one():
    assert psi([50, 50], [500, 500]) == pytest.approx(0.0)
    assert psi([50, 50], [45, 55]) < 0.1
    assert psi([50, 50], [90, 10]) > 0.25
    assert chi_square_p([50, 50], [500, 500]) == pytest.approx(1.0)
    assert chi_square_p([50, 50], [900, 100]) < 1e-6


def test_length_profile_bins_its_own_lengths_evenly():
    lengths = list(range(1, 1001))
    profile = length_profile(lengths)
    assert len(profile["counts"]) == len(profile["edges"]) + 1 == 10
    assert max(profile["counts"]) - min(profile["counts"]) <= 2
    assert psi(profile["counts"], binned(lengths, profile["edges"])) == pytest.approx(0.0)
    assert psi(profile["counts"], binned([length * 3 for length in lengths], profile["edges"])) > 0.25


def test_robust_outliers_flags_the_far_ones_only():
    lengths = [20 + i % 7 for i in range(500)] + [5000]
    assert robust_outliers(lengths).sum() == 1


def test_limits_warn_and_error_in_both_directions():
    limit = Limit(warn=0.1, error=0.5)
    assert judge("x", 0.05, limit, "").status == OK
    assert judge("x", 0.2, limit, "").status == WARN
    assert judge("x", 0.6, limit, "").status == ERROR
    assert judge("rows", 1, Limit(warn=10, error=2), "", below=True).status == ERROR
    assert judge("rows", 5, Limit(warn=10, error=2), "", below=True).status == WARN
    assert judge("x", 99, Limit(), "").status == OK  # both levels off


def test_a_partial_limit_keeps_the_other_level():
    config = load_config("nsmc", ["validation.test_overlap_fraction.warn=0.2"])
    assert config.validation.test_overlap_fraction == Limit(warn=0.2, error=ValidationConfig().test_overlap_fraction.error)


def _table_config(tmp_path, source, **validation):
    return validate_config({"pipeline": "own", "data_root": str(tmp_path / "data"),
                            "corpus": {"name": "table", "source": str(source), "text_column": "text",
                                       "label_column": "label", "test_fraction": 0.25},
                            "text": {"tokenizer": "chars"}, "train": {"models": ["tfidf_nb"]},
                            "registry": {"model_name": "own-model"}, "validation": validation})


def _write(path, counts, prefix="문서"):
    rows = [(f"{prefix} {label} {i}", label) for label, count in counts.items() for i in range(count)]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(path, index=False)
    return path


def test_report_is_markdown_tables_a_plot_and_json(tmp_path):
    config = _table_config(tmp_path, _write(tmp_path / "a.csv", {"a": 40, "b": 40}))
    result = run_validation(config, run_ingest(config), tmp_path / "report")
    markdown = (tmp_path / "report" / "validation.md").read_text(encoding="utf-8")
    assert "| check | value | limits | status | detail |" in markdown and "| train |" in markdown
    assert (tmp_path / "report" / "validation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    findings = json.loads((tmp_path / "report" / "validation.json").read_text())["findings"]
    assert {f["check"] for f in findings} >= {"min_rows_per_class", "test_overlap_fraction", "duplicate_fraction",
                                              "unseen_test_label_fraction", "length_outlier_fraction"}
    assert result.status == OK and result.warnings == []


def test_a_copied_test_split_is_leakage_that_stops_the_run(tmp_path):
    train = _write(tmp_path / "train.csv", {"a": 40, "b": 40})
    config = _table_config(tmp_path, train).model_copy(deep=True)
    config = validate_config({**config.to_dict(), "corpus": {**config.to_dict()["corpus"], "test_source": str(train),
                                                             "test_fraction": 0.2}})
    with pytest.raises(DataValidationError, match=r"test_overlap_fraction = 0.9 .*train.csv, column 'text': 72 of 80 "
                                                  r"test texts are also train texts, e.g. row train.csv:2"):
        run_validation(config, run_ingest(config), tmp_path / "report").enforce()


def _register_champion(client, config, report_path):
    """A champion as register leaves one: a version whose training run's parent holds the ingest report."""
    experiment = mlflow.set_experiment("drift")
    with mlflow.start_run(experiment_id=experiment.experiment_id) as parent:
        mlflow.log_artifact(report_path, "data")
        with mlflow.start_run(nested=True) as child:
            mlflow.log_text("model", "model/MLmodel")
    client.create_registered_model(config.registry.model_name)
    version = client.create_model_version(config.registry.model_name, f"runs:/{child.info.run_id}/model",
                                          run_id=child.info.run_id, tags={"rnnflow.run_id": child.info.run_id})
    client.set_registered_model_alias(config.registry.model_name, "champion", version.version)
    return parent.info.run_id


def test_drift_against_the_champions_data_warns_or_stops(tmp_path, mlflow_store):
    from pipeline.tracking.store import champion_data_profile

    first = _table_config(tmp_path / "one", _write(tmp_path / "a.csv", {"a": 100, "b": 100}))
    assert champion_data_profile(first) is None  # no champion yet: no drift check
    _register_champion(mlflow.MlflowClient(), first, run_ingest(first).report_path)

    moved = _write(tmp_path / "b.csv", {"a": 180, "b": 20}, prefix="새 문서")
    second = _table_config(tmp_path / "two", moved)
    profile = champion_data_profile(second)
    assert profile["label_counts"] == {"a": 67, "b": 67} and "own-model version 1" in profile["source"]
    result = run_validation(second, run_ingest(second), tmp_path / "report", profile)
    drift = {f.check: f for f in result.findings}["label_drift_psi"]
    assert drift.status == WARN and drift.value > 0.25
    assert "chi-square p =" in drift.detail and "b.csv, column 'label'" in drift.detail
    assert any(warning.startswith("label_drift_psi=") for warning in result.warnings)
    assert "Drift against the champion" in (tmp_path / "report" / "validation.md").read_text(encoding="utf-8")

    stopping = _table_config(tmp_path / "three", moved, label_drift_psi={"error": 0.25})
    with pytest.raises(DataValidationError, match=r"label_drift_psi = .* \(warn > 0.1, error > 0.25\)"):
        run_validation(stopping, run_ingest(stopping), tmp_path / "report3", profile).enforce()


def test_pairs_report_identical_and_empty_sides(tmp_path):
    rows = [(f"문장 {i}", f"sentence {i}") for i in range(60)] + [("OK", "ok")] * 1 + \
        [(f"같은 {i}", f"같은 {i}") for i in range(10)] + [("빈", "")]
    path = tmp_path / "pairs.csv"
    pd.DataFrame(rows, columns=["src", "tgt"]).to_csv(path, index=False)
    config = load_config("aihub_translation", {"corpus.name": "table_pairs", "corpus.source": str(path),
                                               "corpus.source_column": "src", "corpus.target_column": "tgt",
                                               "data_root": str(tmp_path / "data")})
    result = run_validation(config, run_ingest(config), tmp_path / "report")
    found = {f.check: f for f in result.findings}
    assert found["identical_pair_fraction"].status == WARN and "pairs.csv:" in found["identical_pair_fraction"].detail
    assert found["empty_pair_fraction"].value == pytest.approx(1 / 72, rel=1e-3)
