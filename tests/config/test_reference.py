"""docs/configuration.md is generated from the schema and must be current."""

from pipeline.config.reference import REFERENCE_PATH, field_description, main, render_reference


def test_the_committed_reference_is_current():
    assert REFERENCE_PATH.read_text(encoding="utf-8") == render_reference(), \
        "docs/configuration.md is stale: run `make docs` (python -m pipeline.config.reference)"


def test_the_reference_lists_every_section_and_reader_with_descriptions():
    text = render_reference()
    for section in ("## `text`", "## `train`", "## `model`", "## `registry`", "## `validation`", "## `tune`",
                    "### `corpus.name: nsmc`", "### `corpus.name: table`", "### `corpus.name: tsv_pairs`"):
        assert section in text, section
    assert "| `epochs` | `int` | `10` | The most epochs each model trains" in text


def test_check_fails_on_a_stale_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("pipeline.config.reference.REFERENCE_PATH", tmp_path / "configuration.md")
    (tmp_path / "configuration.md").write_text("old\n", encoding="utf-8")
    assert main(["--check"]) == 1 and "stale" in capsys.readouterr().err
    assert main([]) == 0 and main(["--check"]) == 0


def test_the_trigger_form_shows_the_schema_descriptions():
    from pipeline.config import load_config
    from pipeline.orchestration.workflow import dag_params

    params = dag_params(load_config("nsmc"))
    assert params["epochs"].description == field_description("train.epochs") != ""
    assert params["tokenizer"].description.startswith("The tokenizer: mecab")
