import pytest

from pipeline.config import ConfigError, load_config, parse_override, validate_config


def test_default_config_loads_with_typed_fields():
    config = load_config("nsmc")
    assert config.pipeline == "nsmc_sentiment"
    assert config.text.tokenizer == "mecab"
    assert config.train.models == ["lstm"]
    assert config.registry.model_name == "nsmc-sentiment"


def test_overrides_are_parsed_as_yaml_and_typed():
    config = load_config("nsmc", ["train.epochs=3", "text.stopwords=[은, 는]", "corpus.source=/data/nsmc"])
    assert config.train.epochs == 3
    assert config.text.stopwords == ["은", "는"]
    assert config.corpus.source == "/data/nsmc"


def test_config_is_frozen():
    config = load_config("nsmc")
    with pytest.raises(Exception):
        config.train.epochs = 5


@pytest.mark.parametrize("override, field", [
    ("train.epochs=zero", "train.epochs"),
    ("train.epochs=0", "train.epochs"),
    ("text.tokenizer=jieba", "text.tokenizer"),
    ("corpus.valid_fraction=0.9", "corpus.valid_fraction"),
    ("train.epoch=3", "train.epoch"),
])
def test_invalid_value_error_names_the_field(override, field):
    with pytest.raises(ConfigError) as error:
        load_config("nsmc", [override])
    assert field in str(error.value)


def test_unknown_field_is_reported_as_unknown():
    with pytest.raises(ConfigError, match=r"model\.layers: unknown field"):
        load_config("nsmc", {"model.layers": 3})


def test_unknown_model_lists_known_ones():
    with pytest.raises(ConfigError, match=r"train\.models: unknown model\(s\) \['transformer'\]"):
        load_config("nsmc", {"train.models": ["transformer"]})


def test_override_without_equals_sign_is_rejected():
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_override("train.epochs")


def test_unknown_pipeline_names_known_ones():
    with pytest.raises(ConfigError, match="nsmc"):
        load_config("no-such-pipeline")


def test_hash_is_stable_and_changes_with_content():
    assert load_config("nsmc").config_hash() == load_config("nsmc").config_hash()
    assert load_config("nsmc").config_hash() != load_config("nsmc", ["train.epochs=3"]).config_hash()


def test_yaml_round_trip_keeps_hash():
    config = load_config("nsmc", ["train.epochs=4"])
    import yaml

    assert validate_config(yaml.safe_load(config.to_yaml())).config_hash() == config.config_hash()


def test_flat_params_are_dotted_strings():
    params = load_config("nsmc").flat_params()
    assert params["train.epochs"] == "10"
    assert params["text.tokenizer"] == "mecab"
    assert all(isinstance(value, str) for value in params.values())
