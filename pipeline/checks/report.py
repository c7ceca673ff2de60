"""Data validation that can stop a run: checks with warn/error limits from the config's
``validation`` section, a readable report, drift against the champion's training data.

Each task kind computes its checks (``TaskKind.validate``) as ``Finding``s; this module judges
them against their limits, writes the report (``validation.md`` with tables, ``validation.png``,
``validation.json``) and raises ``DataValidationError`` naming the file, column and a sample row
when any check is at its error limit. Warnings are recorded on the MLflow run and carried to the
registered version.

Drift compares this run's train split with the profile (label mix, length deciles) stored in the
ingest report of the run that trained the current ``@champion``: the population stability index
(PSI; 0.1 is the usual "moderate shift", 0.25 "major") with a chi-square test of the label mix
reported beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.corpora.errors import CorpusFormatError
from pipeline.io import atomic_path, write_json

if TYPE_CHECKING:
    from pipeline.config import Limit

OK, WARN, ERROR = "ok", "warn", "error"
REPORT_MD, REPORT_JSON, REPORT_PNG = "validation.md", "validation.json", "validation.png"
# Proportions below this count as this in PSI, so an empty bin does not make it infinite.
PSI_FLOOR = 1e-4


class DataValidationError(CorpusFormatError):
    """The data failed a check at its error limit; the message names file, column and a sample row."""


@dataclass(frozen=True)
class Finding:
    check: str
    value: float
    status: str
    # Where and what: file, column and a sample row for a person to look at.
    detail: str
    limit: str = ""


def judge(check: str, value: float, limit: Limit, detail: str, below: bool = False) -> Finding:
    """A check's value against its limits; ``below``: the value is bad when under the limit."""
    def crosses(threshold: float | None) -> bool:
        if threshold is None or value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return value < threshold if below else value > threshold

    status = ERROR if crosses(limit.error) else WARN if crosses(limit.warn) else OK
    sign = "<" if below else ">"
    bounds = ", ".join(f"{name} {sign} {threshold:g}" for name, threshold in (("warn", limit.warn),
                                                                              ("error", limit.error))
                       if threshold is not None)
    return Finding(check, round(float(value), 6), status, detail, bounds or "off")


def failure(check: str, detail: str) -> Finding:
    """A schema check that always stops the run (no limit makes the data usable)."""
    return Finding(check, 1.0, ERROR, detail, "always")


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two histograms over the same bins (counts or proportions)."""
    e_total, a_total = sum(expected), sum(actual)
    if not e_total or not a_total:
        return float("nan")
    value = 0.0
    for e, a in zip(expected, actual):
        p, q = max(e / e_total, PSI_FLOOR), max(a / a_total, PSI_FLOOR)
        value += (q - p) * math.log(q / p)
    return value


def chi_square_p(expected: Sequence[float], actual: Sequence[float]) -> float:
    """p-value of a chi-square goodness-of-fit test: ``actual`` counts against ``expected``'s mix."""
    from scipy.stats import chisquare

    total = sum(actual)
    e_total = sum(expected)
    kept = [(max(e / e_total, PSI_FLOOR) * total, a) for e, a in zip(expected, actual)]
    scale = total / sum(e for e, _ in kept)
    return float(chisquare([a for _, a in kept], [e * scale for e, _ in kept]).pvalue)


def length_profile(lengths: Sequence[int]) -> dict:
    """Deciles of the lengths as bin edges, and how many lengths fall in each bin."""
    import numpy as np

    values = np.asarray(lengths, dtype=float)
    edges = sorted(set(np.quantile(values, np.linspace(0.1, 0.9, 9)).round(3).tolist()))
    return {"edges": edges, "counts": binned(values, edges)}


def binned(lengths, edges: list[float]) -> list[int]:
    import numpy as np

    return np.bincount(np.searchsorted(edges, np.asarray(lengths, dtype=float), side="right"),
                       minlength=len(edges) + 1).tolist()


def robust_outliers(lengths, z: float = 5.0):
    """Mask of lengths far from the rest: |log length - median| > z robust standard deviations."""
    import numpy as np

    logs = np.log1p(np.asarray(lengths, dtype=float))
    median = float(np.median(logs))
    mad = float(np.median(np.abs(logs - median))) * 1.4826
    if mad == 0:
        return np.zeros(len(logs), dtype=bool)
    return np.abs(logs - median) / mad > z


def enforce(findings: list[Finding]) -> None:
    errors = [finding for finding in findings if finding.status == ERROR]
    if errors:
        first, more = errors[0], len(errors) - 1
        also = f" (and {more} more: {', '.join(f.check for f in errors[1:])})" if more else ""
        raise DataValidationError(f"data validation failed: {first.check} = {first.value:g} ({first.limit}): "
                                  f"{first.detail}{also}")


def worst_status(findings: list[Finding]) -> str:
    statuses = {finding.status for finding in findings}
    return ERROR if ERROR in statuses else WARN if WARN in statuses else OK


def warnings_of(findings: list[Finding]) -> list[str]:
    return [f"{finding.check}={finding.value:g}" for finding in findings if finding.status == WARN]


def write_report(out_dir: Path, findings: list[Finding], summary: dict, drift: dict | None) -> Path:
    """``validation.md`` (tables a person reads), ``validation.json`` and ``validation.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / REPORT_JSON, {"findings": [asdict(f) for f in findings], "summary": summary,
                                       "drift": drift})
    with atomic_path(out_dir / REPORT_MD) as tmp:
        tmp.write_text(_markdown(findings, summary, drift), encoding="utf-8")
    with atomic_path(out_dir / REPORT_PNG) as tmp:
        _plot(tmp, summary, drift)
    return out_dir


def _markdown(findings: list[Finding], summary: dict, drift: dict | None) -> str:
    icon = {OK: "ok", WARN: "**warn**", ERROR: "**ERROR**"}
    lines = ["# Data validation", "", "| check | value | limits | status | detail |", "|---|---|---|---|---|"]
    lines += [f"| {f.check} | {f.value:g} | {f.limit} | {icon[f.status]} | {f.detail.replace('|', '/')} |"
              for f in findings]
    lines += ["", "## Splits", "", "| split | rows | " + " | ".join(summary["labels"]) + " | median length |",
              "|---|---|" + "---|" * len(summary["labels"]) + "---|"]
    for split, stats in summary["splits"].items():
        counts = " | ".join(str(stats["label_counts"].get(label, 0)) for label in summary["labels"])
        lines.append(f"| {split} | {stats['rows']} | {counts} | {stats['median_length']:g} |")
    if drift:
        lines += ["", "## Drift against the champion's training data", "",
                  f"Reference: {drift['reference']}", "",
                  "| measure | value |", "|---|---|"]
        lines += [f"| {key} | {value:g} |" for key, value in drift["measures"].items()]
    return "\n".join(lines) + "\n"


def _plot(path: Path, summary: dict, drift: dict | None) -> None:
    from pipeline.plots import pyplot

    plt = pyplot()
    figure, (mix, lengths) = plt.subplots(1, 2, figsize=(11, 4))
    labels = summary["labels"]
    series = {split: stats["label_counts"] for split, stats in summary["splits"].items()}
    if drift and drift.get("reference_label_counts"):
        series["champion train"] = drift["reference_label_counts"]
    width = 0.8 / max(1, len(series))
    for offset, (name, counts) in enumerate(series.items()):
        total = sum(counts.values()) or 1
        mix.bar([i + offset * width for i in range(len(labels))], [counts.get(label, 0) / total for label in labels],
                width=width, label=name)
    mix.set_xticks([i + 0.4 - width / 2 for i in range(len(labels))], labels, rotation=45, ha="right")
    mix.set_ylabel("share of rows")
    mix.set_title("label mix")
    mix.legend(fontsize=8)
    for split, stats in summary["splits"].items():
        lengths.hist(stats["lengths_sample"], bins=40, alpha=0.5, label=split, density=True)
    lengths.set_xlabel("characters")
    lengths.set_title("text length")
    lengths.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90, format="png")
    plt.close(figure)
