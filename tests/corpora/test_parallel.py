"""Parallel-corpus ingestion: AI Hub .xlsx written by the tests in the real format, aligned files, TSV pairs."""

import io
import tarfile

import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.corpora.errors import CorpusFormatError
from pipeline.corpora.readers.table_pairs import file_domain
from pipeline.corpora.readers.tsv_pairs import TsvStats, read_tsv_pairs
from pipeline.io import read_json
from pipeline.stages.ingest import run_ingest


def _workbook(path, header, rows):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def _config(tmp_path, source, **overrides):
    return load_config("aihub_translation", {"data_root": str(tmp_path / "data"), "corpus.source": str(source),
                                "corpus.valid_fraction": 0.2, "corpus.test_fraction": 0.2, **overrides})


@pytest.fixture
def aihub(tmp_path):
    folder = tmp_path / "aihub"
    folder.mkdir()
    _workbook(folder / "1_구어체(1)_200226.xlsx", ["SID", "원문", "번역문"],
              [[i, f"나는 사과를 {i}개 먹었다", f"I ate {i} apples"] for i in range(1, 11)])
    # The dialogue file: an extra unnamed column and columns in another order; no _200226 suffix.
    _workbook(folder / "2_대화체.xlsx", ["번역문", None, "SID", "원문"],
              [[f"Hello number {i}", "x", 100 + i, f"안녕 {i}번"] for i in range(1, 11)])
    (folder / "notes.txt").write_text("not a workbook")
    return folder


def test_aihub_folder_by_glob_and_column_name_with_domains(aihub, tmp_path):
    result = run_ingest(_config(tmp_path, aihub, **{"corpus.name": "aihub"}))
    table = pd.read_parquet(result.table_path)
    assert len(table) == 20 and sum(result.rows.values()) == 20
    assert set(table["domain"]) == {"1_구어체(1)", "2_대화체"}
    row = table[table["id"] == "104"].iloc[0]
    assert (row["source"], row["target"], row["origin"]) == ("안녕 4번", "Hello number 4", "2_대화체.xlsx:5")
    report = read_json(result.report_path)
    assert report["domains"]["2_대화체"]["train"] >= 1
    assert sorted(report["file_sha256"]) == ["1_구어체(1)_200226.xlsx", "2_대화체.xlsx"]
    assert file_domain(aihub / "3_문어체_뉴스(1)_200226.xlsx") == "3_문어체_뉴스(1)"


def test_split_is_seeded_by_source_sentence(aihub, tmp_path):
    first = pd.read_parquet(run_ingest(_config(tmp_path, aihub, **{"corpus.name": "aihub"})).table_path)
    again = pd.read_parquet(run_ingest(_config(tmp_path / "b", aihub, **{"corpus.name": "aihub"})).table_path)
    assert first.equals(again)
    assert first.groupby("source")["split"].nunique().max() == 1


def test_aihub_missing_column_names_the_file_and_empty_cells_are_counted(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    _workbook(folder / "a_200226.xlsx", ["SID", "원문", "영어"], [[1, "가", "a"]])
    with pytest.raises(CorpusFormatError, match=r"a_200226.xlsx: corpus.target_column: no column '번역문'; "
                                                r"the header has \['SID', '원문', '영어'\]"):
        run_ingest(_config(tmp_path, folder, **{"corpus.name": "aihub"}))
    assert not (tmp_path / "data" / "processed").exists()
    # An empty cell drops its pair, counted; validation's empty_pair_fraction decides if too many were.
    _workbook(folder / "a_200226.xlsx", ["SID", "원문", "번역문"],
              [[i, f"가 {i}", f"a {i}"] for i in range(1, 30)] + [[30, "나", None]])
    report = read_json(run_ingest(_config(tmp_path, folder, **{"corpus.name": "aihub"})).report_path)
    assert report["dropped"]["empty_target"] == 1 and sum(report["rows"].values()) == 29


def _add(tar, name, text):
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def test_line_aligned_plain_and_tar_gz(tmp_path):
    folder = tmp_path / "aligned"
    folder.mkdir()
    (folder / "talk.ko").write_text("안녕\n고마워\n잘 가\n좋은 아침\n", encoding="utf-8")
    (folder / "talk.en").write_text("hello\nthank you\nbye\ngood morning\n", encoding="utf-8")
    with tarfile.open(folder / "news.tar.gz", "w:gz") as tar:
        _add(tar, "news/park.dev.ko", "경제가 성장했다\n비가 온다\n")
        _add(tar, "news/park.dev.en", "the economy grew\nit rains\n")
    result = run_ingest(_config(tmp_path, folder, **{"corpus.name": "line_aligned"}))
    table = pd.read_parquet(result.table_path)
    assert len(table) == 6
    assert set(table["domain"]) == {"talk", "park.dev"}
    assert table.set_index("source").loc["비가 온다", "target"] == "it rains"


def test_misaligned_files_are_an_error_naming_both(tmp_path):
    folder = tmp_path / "aligned"
    folder.mkdir()
    (folder / "talk.ko").write_text("안녕\n고마워\n", encoding="utf-8")
    (folder / "talk.en").write_text("hello\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=r"talk.ko has 2 lines but .*talk.en has 1"):
        run_ingest(_config(tmp_path, folder, **{"corpus.name": "line_aligned"}))
    (folder / "talk.en").write_text("hello\n\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=r"talk.en:2: empty line"):
        run_ingest(_config(tmp_path, folder, **{"corpus.name": "line_aligned"}))


def test_tsv_pairs_drop_a_cut_off_last_line_and_count_filters(tmp_path):
    path = tmp_path / "fra.txt"
    lines = ["Go.\tVa !", "Run!\tCours !", "Run!\tCours !", "I am very very very tired today.\tJe suis fatigué.",
             "Hi.\tSalut !"]
    path.write_text("\n".join(lines) + "\nMy wisdom teeth are coming in.\tMes dents ", encoding="utf-8")
    stats = TsvStats()
    assert len(read_tsv_pairs(path, stats=stats)) == 5 and stats.unterminated_last_line == 1
    result = run_ingest(_config(tmp_path, path, **{"corpus.name": "tsv_pairs", "corpus.max_words": 4,
                                                   "corpus.valid_fraction": 0.0, "corpus.test_fraction": 0.34}))
    report = read_json(result.report_path)
    assert report["dropped"] == {"unterminated_last_line": 1, "longer_than_max_words": 1, "duplicate_pair": 1}
    assert sum(report["rows"].values()) == 3
    (tmp_path / "bad.txt").write_text("Go.\tVa !\nno tab here\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=r"bad.txt:2: expected at least 2 tab-separated columns"):
        read_tsv_pairs(tmp_path / "bad.txt")
