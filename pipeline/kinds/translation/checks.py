"""Translation pair checks: empty sides, identical sides, source/target length-ratio outliers,
source sentences shared by train and test (``pipeline.checks.report``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.checks.report import Finding, judge, robust_outliers
from pipeline.config import PipelineConfig

LENGTH_SAMPLE = 2000


def _files(report: dict) -> str:
    files = report.get("files", [])
    return ", ".join(map(str, files[:2])) + (f" and {len(files) - 2} more" if len(files) > 2 else "")


def _sample(rows: pd.DataFrame) -> str:
    row = rows.iloc[0]
    return f"{row['origin']}: {str(row['source'])[:40]!r} -> {str(row['target'])[:40]!r}"


def validate_pairs(config: PipelineConfig, table: pd.DataFrame, report: dict,
                   reference: dict | None) -> tuple[list[Finding], dict, dict | None]:
    limits = config.validation
    where = _files(report)
    dropped = report.get("dropped", {})
    empty = dropped.get("empty_source", 0) + dropped.get("empty_target", 0)
    read = len(table) + sum(dropped.values())
    findings = [judge("empty_pair_fraction", empty / max(1, read), limits.empty_pair_fraction,
                      f"{where}: {empty} of {read} rows have an empty source or target")]
    identical = table[table["source"].str.strip().str.lower() == table["target"].str.strip().str.lower()]
    findings.append(judge("identical_pair_fraction", len(identical) / max(1, len(table)),
                          limits.identical_pair_fraction,
                          f"{where}: {len(identical)} pairs have the same source and target"
                          + (f", e.g. {_sample(identical)}" if len(identical) else "")))
    source_chars = table["source"].str.len().to_numpy(dtype=float)
    target_chars = table["target"].str.len().to_numpy(dtype=float)
    ratio = (source_chars + 1) / (target_chars + 1)
    outliers = robust_outliers(ratio)
    findings.append(judge("length_ratio_outlier_fraction", float(outliers.mean()) if len(ratio) else 0.0,
                          limits.length_ratio_outlier_fraction,
                          f"{where}: {int(outliers.sum())} pairs have a source/target length ratio far from the "
                          f"median {float(np.median(ratio)):.2f}"
                          + (f", e.g. {_sample(table[outliers])}" if outliers.any() else "")))
    summary = {"labels": [], "splits": {
        split: {"rows": len(group), "label_counts": {}, "median_length": float(group["source"].str.len().median()),
                "lengths_sample": group["source"].str.len().to_numpy()[:LENGTH_SAMPLE].tolist()}
        for split, group in table.groupby("split")}}
    return findings, summary, None
