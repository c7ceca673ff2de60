import pytest

from pipeline.corpora.errors import CorpusFormatError
from pipeline.corpora.readers.nsmc import drop_duplicates, parse_file
from tests.conftest import write_nsmc


def test_parses_rows_and_counts_quirks(tmp_path):
    path = write_nsmc(tmp_path / "ratings_train.txt", [
        "1\t재밌어요\t1",
        "2\t\t0",                       # empty document
        "3\t0",                         # missing document
        "4\t최악\t이었다\t0",            # tab inside the document
        '5\t"인생 영화\t1',              # stray quote
        "6\t   \t1",                    # whitespace only
        "",                             # blank line
        "7\t재밌어요\t1",                # duplicate document
        "1\t다른 리뷰\t0",               # duplicate id
    ])
    frame, stats = parse_file(path)
    assert stats.rows_read == 8
    assert stats.dropped == {"empty_document": 2, "missing_document": 1, "blank_line": 1}
    assert stats.repaired == {"tab_inside_document": 1, "quote_inside_document_kept_literally": 1}
    assert frame["text"].tolist() == ["재밌어요", "최악 이었다", '"인생 영화', "재밌어요", "다른 리뷰"]
    deduplicated = drop_duplicates(frame, stats)
    assert deduplicated["id"].tolist() == ["1", "4", "5"]
    assert stats.dropped["duplicate_id"] == 1
    assert stats.dropped["duplicate_document"] == 1


def test_crlf_and_bom_are_accepted(tmp_path):
    path = tmp_path / "ratings_test.txt"
    path.write_bytes("\ufeffid\tdocument\tlabel\r\n1\t좋다\t1\r\n".encode("utf-8"))
    frame, _ = parse_file(path)
    assert frame.to_dict("records") == [{"id": "1", "text": "좋다", "label": 1}]


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CorpusFormatError, match="ratings_train.txt: file not found"):
        parse_file(tmp_path / "ratings_train.txt")


def test_wrong_header_names_file_and_line(tmp_path):
    path = write_nsmc(tmp_path / "ratings_train.txt", ["1\t좋다\t1"], header="id\ttext\tlabel")
    with pytest.raises(CorpusFormatError, match=r"ratings_train.txt:1: header is 'id\\ttext\\tlabel'"):
        parse_file(path)


def test_label_outside_0_1_names_line(tmp_path):
    path = write_nsmc(tmp_path / "ratings_train.txt", ["1\t좋다\t1", "2\t별로\t5"])
    with pytest.raises(CorpusFormatError, match=r"ratings_train.txt:3: label '5' is not 0 or 1"):
        parse_file(path)


def test_non_utf8_byte_names_line(tmp_path):
    path = tmp_path / "ratings_train.txt"
    path.write_bytes("id\tdocument\tlabel\n1\t좋다\t1\n".encode() + "2\t별로\t0\n".encode("cp949"))
    with pytest.raises(CorpusFormatError, match=r"ratings_train.txt:3: not UTF-8"):
        parse_file(path)


def test_empty_file_and_empty_id(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(CorpusFormatError, match="empty file"):
        parse_file(empty)
    path = write_nsmc(tmp_path / "ratings_train.txt", ["\t좋다\t1"])
    with pytest.raises(CorpusFormatError, match=r":2: empty id"):
        parse_file(path)


def test_line_without_tabs_is_an_error(tmp_path):
    path = write_nsmc(tmp_path / "ratings_train.txt", ["just text"])
    with pytest.raises(CorpusFormatError, match=r":2: expected id, document and label"):
        parse_file(path)
