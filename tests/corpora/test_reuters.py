import pytest

from pipeline.corpora.errors import CorpusFormatError
from pipeline.corpora.readers.reuters_sgml import (
    modapte,
    parse_sgml,
    read_distribution,
    single_topic_subset,
)
from tests.conftest import SHARED_CORPORA, needs_shared_corpora


def _document(new_id, split, topics, body, has_topics="YES", text_type=""):
    d = "".join(f"<D>{t}</D>" for t in topics)
    return (f'<REUTERS TOPICS="{has_topics}" LEWISSPLIT="{split}" CGISPLIT="TRAINING-SET" OLDID="1" NEWID="{new_id}">\n'
            f"<DATE>26-FEB-1987</DATE>\n<TOPICS>{d}</TOPICS>\n<PLACES><D>usa</D></PLACES>\n"
            f"<TEXT{text_type}>&#2;\n<TITLE>T{new_id} &lt;ABC&gt;</TITLE>\n<BODY>{body}\n&#3;</BODY></TEXT>\n</REUTERS>\n")


@pytest.fixture
def sgml(tmp_path):
    docs = [
        _document(1, "TRAIN", ["earn"], "Profit rose &amp; shares\x7f jumped."),
        _document(2, "TEST", ["earn"], "Net loss narrowed."),
        _document(3, "TRAIN", ["grain", "wheat"], "Wheat exports."),
        _document(4, "NOT-USED", ["acq"], "Unused."),
        _document(5, "TRAIN", ["acq"], "Takeover bid."),           # acq never in test: not in R52
        _document(6, "TEST", [], "No topic.", has_topics="NO"),
        _document(7, "TRAIN", ["cocoa"], "Cocoa crop."),
        _document(8, "TEST", ["cocoa"], "Cocoa prices."),
    ]
    path = tmp_path / "reut2-000.sgm"
    path.write_bytes(('<!DOCTYPE lewis SYSTEM "lewis.dtd">\n' + "".join(docs)).encode("latin-1"))
    return tmp_path


def test_parse_topics_splits_and_entities(sgml):
    documents = parse_sgml(sgml / "reut2-000.sgm")
    assert len(documents) == 8
    first = documents[0]
    assert (first.new_id, first.lewis_split, first.has_topics, first.topics) == ("1", "TRAIN", True, ("earn",))
    assert first.text == "T1 <ABC> Profit rose & shares jumped."
    assert documents[2].topics == ("grain", "wheat")


def test_modapte_and_single_topic_subsets(sgml):
    documents = read_distribution(sgml)
    assert [(d.new_id, s) for d, s in modapte(documents)] == [
        ("1", "train"), ("2", "test"), ("3", "train"), ("5", "train"), ("7", "train"), ("8", "test")]
    r52 = single_topic_subset(documents, "r52")
    assert [(d.new_id, s, t) for d, s, t in r52] == [("1", "train", "earn"), ("2", "test", "earn"),
                                                     ("7", "train", "cocoa"), ("8", "test", "cocoa")]
    assert {t for _, _, t in single_topic_subset(documents, "r8")} == {"earn"}


def test_truncated_document_and_missing_files_are_errors(tmp_path):
    (tmp_path / "reut2-000.sgm").write_text('<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" NEWID="1"><BODY>cut')
    with pytest.raises(CorpusFormatError, match="1 <REUTERS> opened but 0 complete"):
        parse_sgml(tmp_path / "reut2-000.sgm")
    with pytest.raises(CorpusFormatError, match="no reut2-"):
        read_distribution(tmp_path / "empty")
    (tmp_path / "reut2-001.sgm").write_text('<REUTERS LEWISSPLIT="TRAIN" NEWID="9"></REUTERS>')
    with pytest.raises(CorpusFormatError, match=r"reut2-001.sgm:1: <REUTERS> lacks attribute\(s\) \['TOPICS'\]"):
        parse_sgml(tmp_path / "reut2-001.sgm")


@pytest.mark.parametrize("cut", ["</BODY>", "</TOPICS>", "</D>", "</TITLE>"])
def test_a_truncated_tag_inside_a_document_is_an_error_naming_file_line_and_document(tmp_path, cut):
    good = _document(1, "TRAIN", ["earn"], "Profit rose.")
    broken = _document(2, "TRAIN", ["earn"], "Net loss.")
    broken = broken.replace(cut, cut[:-2], 1)  # "</BODY>" -> "</BOD": the tag cut short
    (tmp_path / "reut2-000.sgm").write_text(good + broken, encoding="latin-1")
    element = cut.strip("</>")
    # Line 10: the second document's <REUTERS> line (each document here is nine lines).
    with pytest.raises(CorpusFormatError, match=rf'reut2-000.sgm:10: <REUTERS NEWID="2"> opens <{element}> (\d) '
                                                rf"time\(s\) but closes it (?!\1)\d \(a truncated tag\?\)"):
        parse_sgml(tmp_path / "reut2-000.sgm")


@needs_shared_corpora("reuters")
def test_real_distribution_counts():
    documents = read_distribution(SHARED_CORPORA / "reuters")
    assert len(documents) == 21_578
    splits = [s for _, s in modapte(documents)]
    r8 = single_topic_subset(documents, "r8")
    r52 = single_topic_subset(documents, "r52")
    print(f"ModApte train {splits.count('train')} test {splits.count('test')}; "
          f"R8 {len(r8)} docs; R52 {len(r52)} docs, {len({t for *_, t in r52})} topics")
    assert len({t for *_, t in r8}) == 8
    assert len({t for *_, t in r52}) == 52
