import pytest

from pipeline.config import ConfigError, load_config, parse_override, validate_config


def test_default_config_loads_with_typed_fields():
    config = load_config("nsmc")
    assert config.pipeline == "nsmc" and config.dag_id == "nsmc_sentiment"
    assert config.kind == "classification" and config.corpus.name == "nsmc"
    assert config.text.tokenizer == "mecab"
    assert config.train.models == ["lstm"]
    assert config.registry.model_name == "nsmc-sentiment"


def test_overrides_are_parsed_as_yaml_and_typed():
    config = load_config("nsmc", ["train.epochs=4", "text.stopwords=[은, 는]", "corpus.source=/data/nsmc"])
    assert config.train.epochs == 4
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
    assert load_config("nsmc").config_hash() != load_config("nsmc", ["train.epochs=7"]).config_hash()


def test_yaml_round_trip_keeps_hash():
    config = load_config("nsmc", ["train.epochs=4"])
    import yaml

    assert validate_config(yaml.safe_load(config.to_yaml())).config_hash() == config.config_hash()


def test_flat_params_are_dotted_strings():
    params = load_config("nsmc").flat_params()
    assert params["train.epochs"] == "3"
    assert params["text.tokenizer"] == "mecab"
    assert all(isinstance(value, str) for value in params.values())


def test_a_field_the_reader_does_not_read_names_reader_and_field():
    with pytest.raises(ConfigError) as error:
        load_config("nsmc", ["corpus.tsv_columns=[1, 0]"])
    message = str(error.value)
    assert "corpus.tsv_columns: the nsmc reader does not read this field" in message
    assert "valid_fraction" in message  # and says what it does read


def test_unknown_reader_lists_the_readers():
    with pytest.raises(ConfigError, match=r"corpus\.name: unknown reader 'csv'; the readers are \[.*'nsmc'"):
        load_config("nsmc", ["corpus.name=csv"])


def test_switching_reader_keeps_only_the_fields_both_readers_share():
    translation = load_config("aihub_translation", ["corpus.name=tsv_pairs"])
    assert translation.corpus.name == "tsv_pairs" and translation.kind == "translation"
    assert translation.corpus.max_words == 40  # a pair filter, shared by every pair reader
    assert translation.corpus.file_glob == "*.txt"  # not aihub's "*.xlsx": that field is aihub's own
    reuters = load_config("reuters", ["corpus.name=reuters_sgml", "corpus.subset=r8"])
    assert reuters.corpus.drop_train_duplicates is False and not hasattr(reuters.corpus, "urls")


def test_the_reader_decides_the_kind_and_the_kind_the_models():
    with pytest.raises(ConfigError, match=r"train\.models: \['seq2seq'\] cannot train on a classification corpus"):
        load_config("nsmc", {"train.models": ["seq2seq"]})
    with pytest.raises(ConfigError, match=r"registry\.metric: translation models are ranked by one of"):
        load_config("aihub_translation", {"registry.metric": "accuracy"})
    with pytest.raises(ConfigError, match=r"target_text: a classification corpus has one text side"):
        load_config("nsmc", {"target_text": {"tokenizer": "english"}})


def test_tokenizer_options_are_checked_when_the_config_loads():
    with pytest.raises(ConfigError, match=r"text\.tokenizer_options: tokenizer 'mecab': unknown option\(s\) \['stem'\]"):
        load_config("nsmc", ["text.tokenizer_options={stem: true}"])
    assert load_config("nsmc", ["text.tokenizer=okt", "text.tokenizer_options={stem: true}"]).text.tokenizer == "okt"


def test_the_config_lists_exactly_the_names_module_s_tokenizers():
    from pipeline import names
    from pipeline.config import TextConfig

    assert set(TextConfig.model_fields["tokenizer"].annotation.__args__) == set(names.TOKENIZERS)


def test_pipelines_folder_adds_pipelines_and_refuses_a_built_in_name(tmp_path, monkeypatch):
    from pipeline.config import pipeline_files

    (tmp_path / "reviews.yaml").write_text("corpus: {name: nsmc}\n", encoding="utf-8")
    monkeypatch.setenv("RNNFLOW_PIPELINES", str(tmp_path))
    assert load_config("reviews").dag_id == "reviews"
    (tmp_path / "nsmc.yaml").write_text("corpus: {name: nsmc}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="pipeline 'nsmc' is already defined"):
        pipeline_files()
