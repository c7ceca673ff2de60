"""Every task kind implements the whole TaskKind interface and agrees with pipeline.names."""

import inspect

import pytest

from pipeline import names
from pipeline.kinds import TaskKind, kind_named, kind_of

INTERFACE = {name for name, member in vars(TaskKind).items()
             if not name.startswith("_") and inspect.isfunction(member)}


def test_the_interface_is_what_the_stages_call():
    assert INTERFACE == {"build_table", "validate", "feature_findings", "prepare", "features_from_xcom",
                         "model_flavor", "fit", "evaluate", "test_predictions", "compare", "ensemble",
                         "serving_parts"}


@pytest.mark.parametrize("kind_name", names.KINDS)
def test_each_kind_implements_every_method_with_the_interface_s_parameters(kind_name):
    kind = kind_named(kind_name)
    assert kind.name == kind_name
    for method in INTERFACE:
        implemented = inspect.signature(getattr(type(kind), method))
        declared = inspect.signature(getattr(TaskKind, method))
        assert list(implemented.parameters) == list(declared.parameters), (kind_name, method)


@pytest.mark.parametrize("kind_name", names.KINDS)
def test_a_kind_charts_two_of_its_own_metrics(kind_name):
    kind = kind_named(kind_name)
    assert len(kind.comparison_metrics) == 2
    assert {metric.removeprefix(names.TEST_METRIC_PREFIX) for metric in kind.comparison_metrics} <= \
        set(names.KIND_METRICS[kind_name])


def test_an_unknown_kind_is_named():
    with pytest.raises(ValueError, match="task kind 'tagging'"):
        kind_named("tagging")


@pytest.mark.parametrize("pipeline, kind_name", [("nsmc", "classification"), ("reuters", "classification"),
                                                 ("aihub_translation", "translation")])
def test_the_config_s_reader_picks_the_kind(pipeline, kind_name):
    from pipeline.config import load_config

    assert kind_of(load_config(pipeline)).name == kind_name


def test_classification_flavors_follow_the_model_family():
    kind = kind_named("classification")
    assert kind.model_flavor("tfidf_logreg") == "sklearn" and kind.model_flavor("lstm") == "keras"
