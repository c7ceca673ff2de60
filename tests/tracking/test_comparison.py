from pipeline.tracking.comparison import comparison_figure, comparison_frame

SCORES = ("test_accuracy", "test_macro_f1")

MODELS = {
    "lstm": {"test_accuracy": 0.86, "test_macro_f1": 0.859, "param_count": 2_900_000, "train_seconds": 400.0,
             "test_inference_sentences_per_second": 5000.0, "run_id": "a"},
    "tfidf_logreg": {"test_accuracy": 0.87, "test_macro_f1": 0.869, "param_count": 800_000, "train_seconds": 20.0,
                     "test_inference_sentences_per_second": 90000.0, "run_id": "b"},
}


def test_table_is_sorted_best_first_with_the_compared_columns():
    frame = comparison_frame(MODELS, SCORES)
    assert frame["model"].tolist() == ["tfidf_logreg", "lstm"]
    assert list(frame.columns) == ["model", "test_accuracy", "test_macro_f1", "param_count", "train_seconds",
                                   "test_inference_sentences_per_second"]


def test_chart_has_one_bar_pair_per_model(tmp_path):
    figure = comparison_figure(comparison_frame(MODELS, SCORES), "comparison")
    axes = figure.axes[0]
    assert [label.get_text() for label in axes.get_yticklabels()] == ["tfidf_logreg", "lstm"]
    assert len(axes.patches) == 4
    figure.savefig(tmp_path / "chart.png")
    assert (tmp_path / "chart.png").stat().st_size > 1000
