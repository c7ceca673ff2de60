"""Validate stage: the data checks of ``pipeline.checks.report`` on an ingested table, against the
config's limits and the current champion's data profile. Runs inside the ingest task, so bad data
stops the run before any tokenizing or training."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.checks.report import (
    Finding,
    enforce,
    warnings_of,
    worst_status,
    write_report,
)
from pipeline.config import PipelineConfig
from pipeline.io import read_json
from pipeline.kinds import kind_of
from pipeline.results import IngestResult


@dataclass
class ValidationResult:
    findings: list[Finding]
    report_dir: Path
    drift: dict | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return worst_status(self.findings)

    def enforce(self) -> None:
        enforce(self.findings)


def run_validation(config: PipelineConfig, ingested: IngestResult, out_dir: Path,
                   reference: dict | None = None) -> ValidationResult:
    """Run the kind's checks and write the report; the caller records it, then ``enforce``s."""
    table = pd.read_parquet(ingested.table_path)
    report = read_json(ingested.report_path)
    findings, summary, drift = kind_of(config).validate(config, table, report, reference)
    write_report(out_dir, findings, summary, drift)
    return ValidationResult(findings, out_dir, drift, warnings_of(findings))
