"""The markdown the MLflow UI shows for a DAG run: winner, table, data checks, registry decision."""

from pipeline.config import load_config
from pipeline.names import VALIDATION_STATUS_TAG, VALIDATION_WARNINGS_TAG
from pipeline.results import RegisterResult
from pipeline.tracking.comparison import comparison_frame
from pipeline.tracking.descriptions import (
    markdown_table,
    parent_summary_description,
    registered_model_description,
)
from pipeline.tracking.lineage import Lineage

MODELS = {
    "gru": {"test_accuracy": 0.8412, "test_macro_f1": 0.8401, "param_count": 120_000, "train_seconds": 61.25},
    "lstm": {"test_accuracy": 0.8533, "test_macro_f1": 0.8530, "param_count": 150_500, "train_seconds": 80.0},
    "tfidf_logreg": {"test_accuracy": 0.8601, "test_macro_f1": 0.8600, "param_count": 0, "train_seconds": 9.5},
}


def test_the_table_puts_the_winner_first_in_bold_and_shows_blanks_for_missing_costs():
    table = markdown_table(comparison_frame(MODELS, ("test_accuracy", "test_macro_f1")))
    lines = table.splitlines()
    assert lines[0] == "| model | accuracy | macro f1 | parameters | train s | test sentences/s |"
    assert lines[2] == "| **tfidf_logreg** | 0.8601 | 0.8600 | 0 | 9.5 | – |"
    assert lines[3] == "| lstm | 0.8533 | 0.8530 | 150,500 | 80.0 | – |"
    assert len(lines) == 5


def test_the_parent_story_names_winner_data_checks_and_the_decision_with_its_reason():
    config = load_config("nsmc", {"train.models": ["gru", "lstm", "tfidf_logreg"]})
    lineage = Lineage("nsmc_sentiment", "manual__1", "c0ffee", "d" * 16, "t" * 16, "a" * 40)
    registered = RegisterResult("nsmc-sentiment", "4", "challenger", "not significant at alpha 0.05 (p = 0.31)",
                                "tfidf_logreg", "run-t", {"accuracy": 0.8601})
    story = parent_summary_description(
        config, lineage, comparison_frame(MODELS, ("test_accuracy", "test_macro_f1")), 50_000, registered,
        {VALIDATION_STATUS_TAG: "warn", VALIDATION_WARNINGS_TAG: "duplicate_fraction=0.12 | train; test_oov_rate=0.3"},
        "7", {"gru": "run-g", "lstm": "run-l", "tfidf_logreg": "run-t"}, "run-parent")
    assert story.startswith("## nsmc: `tfidf_logreg` won (accuracy 0.8601)")
    assert "DAG run `nsmc_sentiment/manual__1` · data `dddddddddddd`" in story
    assert "### Models on the same test split (50,000 rows)" in story
    assert "[lstm](#/experiments/7/runs/run-l)" in story
    assert "get-artifact?path=comparison%2Fchart.png&run_uuid=run-parent" in story
    # A pipe in a warning would split a table cell; the list escapes it.
    assert "- duplicate_fraction=0.12 \\| train\n- test_oov_rate=0.3" in story
    # The decision comes second, next to the winner: above the UI's "Show more" fold.
    assert story.splitlines()[2] == ("**Registry:** `nsmc-sentiment` version 4 (`tfidf_logreg`) → **`@challenger`**: "
                                     "not significant at alpha 0.05 (p = 0.31)")


def test_the_model_description_lists_labels_outputs_and_the_promotion_rule():
    config = load_config("nsmc", {"registry.alpha": 0.01, "registry.min_improvement": 0.005})
    text = registered_model_description(config, ["negative", "positive"], {"label": "the predicted label"})
    assert text.startswith("**nsmc-sentiment**: a raw-text classification model")
    assert "Labels: `negative`, `positive`" in text and "- `label`: the predicted label" in text
    assert "by at least 0.005 at alpha 0.01" in text
