"""Ingest stage: a corpus source -> the canonical table (with a ``split`` column) + a report.

The reader (``corpus.name``) reads the files; the task kind turns its rows into the table.

Output is content-addressed: ``<data_root>/processed/ingest/<key>/`` where the key covers the
input files' sha256 and the ingestion settings, so a rerun with the same inputs reuses it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.config import PipelineConfig
from pipeline.corpora import corpus_reader
from pipeline.corpora.base import (
    LOCATION_FIELDS,
    CorpusReader,
    scrub_control_characters,
)
from pipeline.corpora.download import fetch
from pipeline.corpora.errors import CorpusFormatError, CorpusUnavailableError
from pipeline.io import atomic_dir, digest_strings, read_json, sha256_file, write_json
from pipeline.kinds import kind_of
from pipeline.results import REPORT_FILE, TABLE_FILE, IngestResult

log = logging.getLogger(__name__)

# 4: the validation split is stratified by label. 5: control characters scrubbed and counted.
INGEST_VERSION = "5"


def resolve_source_files(config: PipelineConfig, reader: CorpusReader) -> dict[str, Path]:
    """File name -> local file: from ``corpus.source`` if given, else downloaded and verified."""
    corpus = config.corpus
    if corpus.source:
        return reader.locate(Path(corpus.source).expanduser(), corpus)
    if not reader.downloadable:
        raise CorpusUnavailableError(
            f"corpus {corpus.name} is read from a local folder only: pass it with --source PATH "
            f"(or --set corpus.source=PATH)")
    raw_dir = config.data_dir() / "raw" / corpus.name
    files = {}
    for name in reader.files:
        url = corpus.urls.get(name)
        if not url:
            raise CorpusUnavailableError(f"corpus.urls has no URL for {name}; pass --source PATH")
        try:
            files[name] = fetch(url, raw_dir / name, corpus.sha256.get(name),
                                timeout=corpus.download_timeout_seconds, md5=corpus.md5.get(name))
        except CorpusUnavailableError as exc:
            raise CorpusUnavailableError(
                f"{exc}\nThe {corpus.name} corpus could not be downloaded and no local copy was given. "
                f"Pass a folder holding {', '.join(reader.files)} with "
                f"--source PATH (or --set corpus.source=PATH)."
            ) from exc
    return files


def run_ingest(config: PipelineConfig) -> IngestResult:
    reader = corpus_reader(config.corpus.name)
    files = resolve_source_files(config, reader)
    for path in files.values():
        if not path.is_file():
            raise CorpusFormatError(f"{path}: file not found")
    file_digests = {name: sha256_file(path) for name, path in files.items()}
    data_digest = digest_strings(*(f"{name}={file_digests[name]}" for name in sorted(file_digests)))
    # Every setting that shapes the table (where the files came from is already in data_digest).
    settings = config.corpus.model_dump(mode="json", exclude=set(LOCATION_FIELDS))
    key = digest_strings(data_digest, repr(sorted(settings.items())), str(config.train.seed), INGEST_VERSION)
    out_dir = config.data_dir() / "processed" / "ingest" / key
    if (out_dir / TABLE_FILE).is_file():
        log.info("ingest cache hit: %s", out_dir)
        report = read_json(out_dir / REPORT_FILE)
        return IngestResult(str(out_dir / TABLE_FILE), str(out_dir / REPORT_FILE), data_digest, key,
                            report["test_digest"], report["rows"])

    read = scrub_control_characters(reader.read(files, config.corpus))
    table, report = kind_of(config).build_table(read, config, data_digest)
    report["file_sha256"] = file_digests
    with atomic_dir(out_dir) as tmp:
        table.to_parquet(tmp / TABLE_FILE, index=False)
        write_json(tmp / REPORT_FILE, report)
    log.info("ingested %s rows into %s", report["rows"], out_dir)
    return IngestResult(str(out_dir / TABLE_FILE), str(out_dir / REPORT_FILE), data_digest, key,
                        report["test_digest"], report["rows"])
