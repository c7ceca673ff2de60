"""Classification data checks: label schema, class sizes, duplicates, leakage, unseen test labels,
length outliers and drift from the champion's training data (``pipeline.checks.report``)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from pipeline.checks.report import (
    Finding,
    binned,
    chi_square_p,
    failure,
    judge,
    length_profile,
    psi,
    robust_outliers,
)
from pipeline.config import PipelineConfig

log = logging.getLogger(__name__)

# How many lengths per split the report's histogram keeps.
LENGTH_SAMPLE = 2000


def classification_profile(table: pd.DataFrame, label_names: list[str]) -> dict:
    """What drift is measured on: the train split's label counts (by name) and length deciles."""
    train = table[table["split"] == "train"]
    counts = train["label"].value_counts()
    return {"label_counts": {name: int(counts.get(i, 0)) for i, name in enumerate(label_names)},
            "length": length_profile(train["text"].str.len().to_numpy())}


def _where(report: dict, split: str, role: str) -> str:
    """"<file>, column '<name>'" for a split's text or label, as far as the reader reported them."""
    files = report.get("files", {}).get(split, {})
    path = files.get("file") or ", ".join(map(str, files.get("files", [])[:1])) or f"the {split} split"
    column = files.get("columns", {}).get(role)
    if isinstance(column, list):
        column = "+".join(column)
    return f"{path}, column {column!r}" if column else path


def _sample(rows: pd.DataFrame) -> str:
    row = rows.iloc[0]
    return f"row {row['id']}: {str(row['text'])[:60]!r}"


def validate_classification(config: PipelineConfig, table: pd.DataFrame, report: dict,
                            reference: dict | None) -> tuple[list[Finding], dict, dict | None]:
    limits = config.validation
    names = report["label_names"]
    train, test = table[table["split"] == "train"], table[table["split"] == "test"]
    findings: list[Finding] = []

    train_labels = sorted(set(train["label"]))
    if len(train_labels) < 2:
        label = names[train_labels[0]] if train_labels else None
        findings.append(failure("labels", f"{_where(report, 'train', 'label')}: the train split has one label "
                                          f"({label!r}); a classifier needs two or more"))
    # Labels the train split lacks entirely are the unseen-test-label check's, not this one's.
    counts = train["label"].value_counts()
    if len(counts):
        rarest = int(counts.idxmin())
        findings.append(judge("min_rows_per_class", int(counts.min()), limits.min_rows_per_class,
                              f"{_where(report, 'train', 'label')}: label {names[rarest]!r} has {int(counts.min())} "
                              f"train rows", below=True))

    train_file = report.get("files", {}).get("train", {})
    read = train_file.get("rows_read") or len(train)
    duplicates = train_file.get("dropped", {}).get("duplicate_document", 0)
    findings.append(judge("duplicate_fraction", duplicates / max(1, read), limits.duplicate_fraction,
                          f"{_where(report, 'train', 'text')}: {duplicates} of {read} train rows repeat "
                          f"another row's text"))

    overlap = test[test["text"].isin(set(train["text"]))]
    findings.append(judge("test_overlap_fraction", len(overlap) / max(1, len(test)), limits.test_overlap_fraction,
                          f"{_where(report, 'test', 'text')}: {len(overlap)} of {len(test)} test texts are also "
                          f"train texts" + (f", e.g. {_sample(overlap)}" if len(overlap) else "")))

    unseen = test[~test["label"].isin(set(train["label"]))]
    unseen_names = sorted({names[i] for i in unseen["label"]})
    findings.append(judge("unseen_test_label_fraction", len(unseen) / max(1, len(test)),
                          limits.unseen_test_label_fraction,
                          f"{_where(report, 'test', 'label')}: label(s) {unseen_names} of {len(unseen)} test rows "
                          f"are not in the train split" + (f", e.g. {_sample(unseen)}" if len(unseen) else "")))

    lengths = table["text"].str.len().to_numpy()
    outliers = robust_outliers(lengths)
    findings.append(judge("length_outlier_fraction", float(outliers.mean()), limits.length_outlier_fraction,
                          f"{int(outliers.sum())} texts have a length far from the rest (median "
                          f"{int(np.median(lengths))} characters)"
                          + (f", e.g. {_sample(table[outliers])[:90]} ({int(lengths[outliers][0])} chars)"
                             if outliers.any() else "")))

    profile = classification_profile(table, names)
    drift = None
    if reference:
        drift = _drift(reference, profile, train)
        findings.append(judge("label_drift_psi", drift["measures"]["label_psi"], limits.label_drift_psi,
                              f"{_where(report, 'train', 'label')}: train label mix "
                              f"{_shares(profile['label_counts'])} against the champion's "
                              f"{_shares(reference['label_counts'])} (chi-square p = "
                              f"{drift['measures']['label_chi_square_p']:.3g})"))
        findings.append(judge("length_drift_psi", drift["measures"]["length_psi"], limits.length_drift_psi,
                              f"{_where(report, 'train', 'text')}: train text lengths against the champion's "
                              f"(deciles of its lengths as bins)"))
        drift["reference_label_counts"] = reference["label_counts"]
        drift["reference"] = reference.get("source", "the champion's training data")

    summary = {"labels": names, "splits": {
        split: {"rows": len(group),
                "label_counts": {names[i]: int(n) for i, n in group["label"].value_counts().sort_index().items()},
                "median_length": float(group["text"].str.len().median()),
                "lengths_sample": group["text"].str.len().to_numpy()[:LENGTH_SAMPLE].tolist()}
        for split, group in table.groupby("split")}}
    return findings, summary, drift


def _shares(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    return "{" + ", ".join(f"{name}: {count / total:.0%}" for name, count in counts.items()) + "}"


def _drift(reference: dict, profile: dict, train: pd.DataFrame) -> dict:
    labels = sorted(set(reference["label_counts"]) | set(profile["label_counts"]))
    expected = [reference["label_counts"].get(label, 0) for label in labels]
    actual = [profile["label_counts"].get(label, 0) for label in labels]
    edges = reference["length"]["edges"]
    return {"measures": {
        "label_psi": round(psi(expected, actual), 6),
        "label_chi_square_p": chi_square_p(expected, actual),
        "length_psi": round(psi(reference["length"]["counts"], binned(train["text"].str.len(), edges)), 6),
    }}


def oov_finding(config: PipelineConfig, prepared) -> Finding:
    from pipeline.results import TEXT_SPEC_FILE
    from pipeline.text.spec import TextSpec

    rate = TextSpec.read(prepared.path(TEXT_SPEC_FILE)).test_oov_rate
    pieces = f", text.subword_vocab_size {config.text.subword_vocab_size}" if config.text.subword_vocab_size else ""
    return judge("test_oov_rate", rate, config.validation.test_oov_rate,
                 f"{rate:.1%} of the test split's tokens are not in the train vocabulary "
                 f"(text.tokenizer {config.text.tokenizer}, text.min_freq {config.text.min_freq}{pieces})")


def champion_finding(config: PipelineConfig, prepared) -> list[Finding]:
    """The current champion on this run's test split against always answering its most frequent
    label; none without a champion. Its predictions are recorded for the promotion gate, which then
    does not score it again."""
    from functools import partial

    from mlflow.exceptions import MlflowException

    from pipeline.kinds.classification.evaluation import test_predictions
    from pipeline.names import CHAMPION
    from pipeline.results import FEATURES_FILE, TEXT_SPEC_FILE
    from pipeline.text.spec import TextSpec
    from pipeline.tracking.store import configure, recorded_test_predictions

    client = configure(config)
    name = config.registry.model_name
    try:
        champion = str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return []
    try:
        predicted = recorded_test_predictions(client, name, champion, prepared.test_digest,
                                              partial(test_predictions, prepared=prepared))
    except Exception as exc:  # a champion that cannot be scored must not block every future run
        log.warning("%s version %s (@champion) could not score this test split: %s", name, champion, exc)
        return []
    with np.load(prepared.path(FEATURES_FILE)) as arrays:
        y_test = arrays["y_test"]
    label_names = TextSpec.read(prepared.path(TEXT_SPEC_FILE)).label_names
    truth = [label_names[i] for i in y_test]
    accuracy = float(np.mean([guess == real for guess, real in zip(predicted, truth)])) if truth else 0.0
    counts = pd.Series(truth).value_counts()
    majority_label, majority = counts.idxmax(), float(counts.max()) / max(1, len(truth))
    return [judge("champion_margin_over_majority", accuracy - majority, config.validation.champion_margin_over_majority,
                  f"{name} version {champion} (@champion) scores accuracy {accuracy:.3f} on this run's test split "
                  f"({len(truth)} rows), where always answering {majority_label!r} scores {majority:.3f}", below=True)]
