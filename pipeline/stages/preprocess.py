"""Preprocess stage: canonical table -> cleaned tokens -> vocabularies fit on the train split only
-> id arrays, in a features folder cached by (table digest, text settings, code version)."""

from __future__ import annotations

from pipeline.config import PipelineConfig
from pipeline.kinds import kind_of
from pipeline.results import IngestResult, PreparedFeatures


def run_preprocess(config: PipelineConfig, ingested: IngestResult) -> PreparedFeatures:
    return kind_of(config).prepare(config, ingested)
