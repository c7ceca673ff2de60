"""A test split the champion cannot make sense of stops the run before training: with the labels of
the test file flipped, the champion (a real registered model) scores far below always answering
the most frequent label. On an ordinary split the check passes and the promotion gate reuses the
champion's predictions it recorded."""

from __future__ import annotations

import mlflow
import pytest

from pipeline.results import predictions_artifact

pytestmark = pytest.mark.slow  # trains, registers and loads a model (about a minute)

OVERRIDES = ["text.workers=1", "train.models=[tfidf_nb]", "model.baseline_min_df=1",
             "registry.model_name=gate-test", "tracking.experiment=gate-test"]


def _flip_labels(source, target):
    target.mkdir()
    (target / "ratings_train.txt").write_bytes((source / "ratings_train.txt").read_bytes())
    lines = (source / "ratings_test.txt").read_text(encoding="utf-8").splitlines()
    flipped = [lines[0]] + [line[:-1] + ("0" if line.endswith("1") else "1") for line in lines[1:]]
    (target / "ratings_test.txt").write_text("\n".join(flipped) + "\n", encoding="utf-8")
    return target


def test_a_test_split_the_champion_scores_below_majority_on_stops_the_run(mlflow_store, sample_corpus, tmp_path):
    from pipeline.orchestration import tasks

    def run(corpus, run_id):
        overrides = [f"data_root={tmp_path / 'data'}", f"corpus.source={corpus}", *OVERRIDES]
        return tasks.start_run("nsmc", {"overrides": overrides}, "nsmc_sentiment", run_id)

    first = run(sample_corpus, "gate-1")
    prepared = tasks.preprocess(first, tasks.ingest(first))
    registered = tasks.register(first, prepared, [tasks.evaluate(first, prepared,
                                                                 tasks.train(first, prepared, "tfidf_nb"))])
    assert registered["alias"] == "champion"

    flipped = run(_flip_labels(sample_corpus, tmp_path / "flipped"), "gate-2")
    from airflow.sdk.exceptions import AirflowFailException

    # Bad data: the task fails at once (no retry), naming the check, the champion and the figures.
    with pytest.raises(AirflowFailException, match=r"champion_margin_over_majority = -0\.\d+ .*gate-test version 1 "
                                                   r"\(@champion\) scores accuracy 0\.\d+ on this run's test split"):
        tasks.preprocess(flipped, tasks.ingest(flipped))

    # The same corpus again: the check passes, and the champion's predictions on this test split,
    # recorded by evaluation, are what it used (nothing re-scored, nothing new logged).
    again = run(sample_corpus, "gate-3")
    prepared_again = tasks.preprocess(again, tasks.ingest(again))
    client = mlflow.MlflowClient()
    champion_run = client.get_model_version("gate-test", "1").tags["rnnflow.run_id"]
    recorded = [item.path for item in client.list_artifacts(champion_run, "predictions")]
    # Two splits scored: the original (by evaluation, reused now) and the flipped one (by the check).
    assert prepared_again["test_digest"] == prepared["test_digest"]
    assert len(recorded) == 2 and predictions_artifact(prepared["test_digest"]) in recorded
    parent = client.get_run(again["parent_run_id"])
    assert parent.data.tags["rnnflow.validation"] in ("ok", "warn")
    assert "champion_margin_over_majority" not in parent.data.tags.get("rnnflow.validation_warnings", "")
