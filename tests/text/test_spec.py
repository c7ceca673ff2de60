"""The text spec: one type for both kinds, and the first layout's files still read."""

import pytest

from pipeline.config import TextConfig
from pipeline.text.processor import TextProcessor
from pipeline.text.spec import FORMAT, TextSide, TextSpec


def _side(tokenizer: str, length: int) -> TextSide:
    config = TextConfig(tokenizer=tokenizer)
    return TextSide(config, TextProcessor.from_config(config).identity(), length)


def test_a_translation_spec_round_trips_with_both_sides(tmp_path):
    spec = TextSpec(source=_side("mecab", 12), target=_side("english", 15), table_path="/t.parquet",
                    max_output_len=20, decode={"beam_width": 4})
    spec.write(tmp_path / "text_spec.json")
    again = TextSpec.read(tmp_path / "text_spec.json")
    assert again == spec
    assert list(again.sides()) == ["source", "target"]
    assert again.target.tokenizer["name"] == "english" and again.source.length == 12


def test_a_classification_spec_has_one_side_and_its_labels(tmp_path):
    spec = TextSpec(source=_side("mecab", 30), table_path="/t.parquet", label_names=["neg", "pos"], test_oov_rate=0.1)
    assert TextSpec.loads(__import__("json").dumps(spec.to_json())) == spec
    assert spec.to_json()["format"] == FORMAT and list(spec.sides()) == ["source"]


@pytest.mark.parametrize("kind", ["classification", "translation"])
def test_the_first_layout_still_reads(kind):
    """Models registered before the TextSpec type carry the older keys, which differed by kind."""
    source, target = _side("mecab", 9), _side("english", 11)
    if kind == "classification":
        old = {"text_config": source.config.model_dump(mode="json"), "processor": source.processor, "max_len": 9,
               "label_names": ["0", "1"], "table_path": "/t", "test_oov_rate": 0.25}
    else:
        old = {"task": "translation", "source_text_config": source.config.model_dump(mode="json"),
               "target_text_config": target.config.model_dump(mode="json"), "source_processor": source.processor,
               "target_processor": target.processor, "source_len": 9, "target_len": 11, "max_output_len": 30,
               "decode": {"beam_width": 3}, "table_path": "/t"}
    spec = TextSpec.from_json(old)
    assert spec.source == source
    if kind == "classification":
        assert spec.target is None and spec.label_names == ["0", "1"] and spec.test_oov_rate == 0.25
    else:
        assert spec.target == target and spec.max_output_len == 30 and spec.decode == {"beam_width": 3}
