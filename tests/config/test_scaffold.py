"""`rnnflow init`: sniffing tables nobody described, and a starter YAML that loads."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.config.scaffold import sniff, write_starter


def test_korean_csv_with_a_header(tmp_path):
    rows = [(i, f"배송이 늦어요 정말 너무 늦어요 {i}", ["배송", "환불", "칭찬"][i % 3]) for i in range(90)]
    path = tmp_path / "문의.csv"
    pd.DataFrame(rows, columns=["id", "내용", "분류"]).to_csv(path, index=False)
    found = sniff(path)
    assert (found.header, found.text_column, found.label_column, found.korean) == (True, "내용", "분류", True)
    assert found.label_counts == {"배송": 30, "환불": 30, "칭찬": 30}
    out = write_starter(path, tmp_path / "tickets.yaml")
    config = load_config(out)
    assert config.corpus.labels == ["배송", "칭찬", "환불"] and config.text.tokenizer == "mecab"
    assert config.registry.metric == "macro_f1"
    assert "# guess: 3 classes" in out.read_text(encoding="utf-8")


def test_english_tsv_without_a_header_label_first(tmp_path):
    path = tmp_path / "SMSSpam"
    lines = [f"{'spam' if i % 7 == 0 else 'ham'}\tmessage number {i} about lunch and other things" for i in range(70)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = sniff(path)
    assert (found.format, found.header, found.label_column, found.text_column, found.korean) == \
        ("tsv", False, "0", "1", False)
    config = load_config(write_starter(path, tmp_path / "spam.yaml"))
    assert (config.corpus.label_column, config.corpus.text_column, config.corpus.header) == (0, 1, False)
    assert config.text.tokenizer == "english" and config.corpus.format == "tsv"


def test_cp949_file_is_sniffed(tmp_path):
    path = tmp_path / "old.csv"
    text = "리뷰,평점\n" + "".join(f"정말 좋은 상품 {i},{i % 2}\n" for i in range(40))
    path.write_bytes(text.encode("cp949"))
    found = sniff(path)
    assert found.encoding == "cp949" and found.label_column == "평점"


def test_an_existing_yaml_is_not_overwritten(tmp_path):
    path = tmp_path / "a.csv"
    pd.DataFrame({"text": [f"t {i}" for i in range(10)], "label": ["x", "y"] * 5}).to_csv(path, index=False)
    (tmp_path / "a.yaml").write_text("mine", encoding="utf-8")
    with pytest.raises(FileExistsError, match="pass --force"):
        write_starter(path, tmp_path / "a.yaml")
    assert (tmp_path / "a.yaml").read_text() == "mine"
