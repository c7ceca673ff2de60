import pytest

from pipeline.config import load_config
from pipeline.corpora.errors import CorpusFormatError, CorpusUnavailableError
from pipeline.io import read_json
from pipeline.stages.ingest import run_ingest
from tests.conftest import SHARED_CORPORA, needs_shared_corpora, write_nsmc


def test_ingest_writes_table_report_and_reuses_cache(small_config):
    import pandas as pd

    first = run_ingest(small_config)
    table = pd.read_parquet(first.table_path)
    assert set(table.columns) == {"id", "text", "label", "split"}
    assert first.rows == {"train": 54, "valid": 6, "test": 30}
    report = read_json(first.report_path)
    assert report["label_names"] == ["negative", "positive"]
    assert sum(report["splits"]["train"]["label_counts"].values()) == 54
    assert report["files"]["train"]["rows_read"] == 60
    second = run_ingest(small_config)
    assert second == first


def test_validation_split_is_seeded(small_config, tmp_path):
    import pandas as pd

    other_root = small_config.model_copy(update={"data_root": str(tmp_path / "other")})
    a = pd.read_parquet(run_ingest(small_config).table_path)
    b = pd.read_parquet(run_ingest(other_root).table_path)
    assert a.equals(b)


def test_bad_input_leaves_no_output(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    write_nsmc(folder / "ratings_train.txt", ["1\t좋다\t1"])
    write_nsmc(folder / "ratings_test.txt", ["2\t별로\t7"])
    config = load_config("nsmc", {"data_root": str(tmp_path / "data"), "corpus.source": str(folder)})
    with pytest.raises(CorpusFormatError, match=r"ratings_test.txt:2: label '7'"):
        run_ingest(config)
    ingest_dir = tmp_path / "data" / "processed" / "ingest"
    assert not ingest_dir.exists() or list(ingest_dir.iterdir()) == []


def test_nul_and_other_control_characters_are_removed_and_counted(tmp_path):
    import pandas as pd

    folder = tmp_path / "nul"
    folder.mkdir()
    rows = [f"{i}\t{'좋다' if i % 2 else '별로'} 영화 {i}\t{i % 2}" for i in range(1, 41)]
    rows[0] = "1\t좋\x00다 영화\x07 1\t1"
    rows[1] = "2\t\x00\x00\t0"  # nothing but NUL: no text left
    write_nsmc(folder / "ratings_train.txt", rows)
    write_nsmc(folder / "ratings_test.txt", [f"{i}\t영화 {i}\t{i % 2}" for i in range(100, 120)])
    config = load_config("nsmc", {"data_root": str(tmp_path / "data"), "corpus.source": str(folder)})
    ingested = run_ingest(config)
    report = read_json(ingested.report_path)
    assert report["files"]["train"]["repaired"]["control_characters_in_text"] == 2
    assert report["files"]["train"]["dropped"]["only_control_characters_in_text"] == 1
    table = pd.read_parquet(ingested.table_path)
    assert not table["text"].str.contains("[\x00-\x08]", regex=True).any()
    assert "좋다 영화 1" in table["text"].tolist()
    assert ingested.rows["train"] + ingested.rows["valid"] == 39


def test_missing_source_folder_is_named(tmp_path):
    config = load_config("nsmc", {"corpus.source": str(tmp_path / "nowhere")})
    with pytest.raises(FileNotFoundError, match="nowhere: not a folder"):
        run_ingest(config)


def test_offline_download_says_how_to_pass_source(tmp_path):
    config = load_config("nsmc", {
        "data_root": str(tmp_path), "corpus.download_timeout_seconds": 5,
        "corpus.urls": {"ratings_train.txt": "http://127.0.0.1:9/a", "ratings_test.txt": "http://127.0.0.1:9/b"},
    })
    with pytest.raises(CorpusUnavailableError, match="--source PATH"):
        run_ingest(config)


@needs_shared_corpora("nsmc")
def test_real_nsmc_quirks_are_counted(tmp_path):
    config = load_config("nsmc", {"data_root": str(tmp_path), "corpus.source": str(SHARED_CORPORA / "nsmc")})
    result = run_ingest(config)
    report = read_json(result.report_path)
    assert report["files"]["train"]["rows_read"] == 150_000
    assert report["files"]["test"]["rows_read"] == 50_000
    dropped = sum(sum(f["dropped"].values()) for f in report["files"].values())
    assert sum(result.rows.values()) + dropped == 200_000
