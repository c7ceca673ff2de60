"""What the MLflow UI says in words: the markdown descriptions of experiments, parent and child
runs, registered models and versions, so a reader sees which architecture won, on what data and
why it was or was not promoted without opening an artifact.

Text only: ``pipeline.tracking.store`` and the register stage put it on the MLflow entities.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import pandas as pd

from pipeline.config import PipelineConfig
from pipeline.names import (
    ALIASES,
    PERCENT_METRICS,
    TEST_METRIC_PREFIX,
    VALIDATION_STATUS_TAG,
    VALIDATION_WARNINGS_TAG,
)
from pipeline.results import RegisterResult
from pipeline.tracking.lineage import Lineage

# MLflow's own tag keys. The note is the description field of experiments and runs; the kind tells
# MLflow 3's UI that an experiment holds model training, so it opens on the runs table instead of
# the GenAI traces overview.
NOTE_TAG = "mlflow.note.content"
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"

# How the comparison table heads the columns of pipeline.tracking.comparison's frame.
COLUMN_TITLES = {"param_count": "parameters", "train_seconds": "train s",
                 "test_inference_sentences_per_second": "test sentences/s"}


def run_link(experiment_id: str, run_id: str, text: str) -> str:
    """A link the MLflow UI follows (it routes on the URL fragment)."""
    return f"[{text}](#/experiments/{experiment_id}/runs/{run_id})"


def _code(value: Any) -> str:
    return f"`{value}`" if value not in (None, "") else "unknown"


def _figure(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if column.removeprefix(TEST_METRIC_PREFIX) in PERCENT_METRICS:
        return f"{value:.2f}"
    if column.startswith(TEST_METRIC_PREFIX) and "per_second" not in column:
        return f"{value:.4f}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    """The comparison frame as a markdown table, best row first and in bold."""
    titles = [COLUMN_TITLES.get(c, c.removeprefix(TEST_METRIC_PREFIX).replace("_", " ")) for c in frame.columns]
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for index, row in frame.iterrows():
        cells = [_cell(_figure(column, row[column]) if column != "model" else row[column]) for column in frame.columns]
        if index == 0:
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _promotion_rule(config: PipelineConfig) -> str:
    registry = config.registry
    improvement = f" by at least {registry.min_improvement:g}" if registry.min_improvement else ""
    return (f"The best model by test `{registry.metric}` is registered as `{registry.model_name}` and takes "
            f"`@champion` only when a paired significance test on the same test split says it beats the "
            f"champion{improvement} at alpha {registry.alpha:g}; otherwise it becomes `@challenger`.")


def experiment_description(config: PipelineConfig) -> str:
    about = config.dag.description.strip()
    return "\n\n".join(part for part in (
        f"**{config.pipeline}**: {config.kind} models trained by rnnflow on the `{config.corpus.name}` corpus.",
        about,
        "Each Airflow DAG run is one parent run, named after the pipeline and its start time; its child "
        "runs are the architectures trained side by side on the same test split. The parent run's "
        "description holds the comparison table and the registry decision.",
        _promotion_rule(config),
    ) if part)


def parent_run_name(config: PipelineConfig, started: str) -> str:
    return f"{config.pipeline} {started}"


def parent_started_description(config: PipelineConfig, lineage: Lineage) -> str:
    """What the parent run says while the DAG run is under way (replaced by the summary at the end)."""
    models = ", ".join(f"`{model}`" for model in config.train.models)
    return (f"## {config.pipeline}: running\n\n{_lineage_line(lineage)}\n\nTraining {models}; the comparison and "
            "the registry decision appear here when the run ends.")


def _lineage_line(lineage: Lineage) -> str:
    """Where a run or version came from; parts not known yet (the data before ingestion) left out."""
    parts = [("DAG run", lineage.run_key), ("data", lineage.data_digest[:12]), ("test split", lineage.test_digest[:12]),
             ("config", lineage.config_hash), ("commit", lineage.git_commit[:12]),
             ("resumed in DAG run", lineage.resumed_in)]
    return " · ".join(f"{label} {_code(value)}" for label, value in parts if value)


def ended_description(title: str, detail: str) -> str:
    """A parent run that did not finish: why, in a code block (an error is not markdown)."""
    return f"## {title}\n\n```\n{detail.strip()[:3000]}\n```"


def _validation_lines(validation: Mapping[str, str]) -> list[str]:
    warnings = [item for item in validation.get(VALIDATION_WARNINGS_TAG, "").split("; ") if item]
    return ([f"### Data validation: {validation.get(VALIDATION_STATUS_TAG, 'not run')}", ""]
            + ([f"- {_cell(w)}" for w in warnings] or ["No warnings."]))


def parent_summary_description(config: PipelineConfig, lineage: Lineage, comparison: pd.DataFrame, test_rows: int,
                               registered: RegisterResult, validation: Mapping[str, str], experiment_id: str,
                               child_runs: Mapping[str, str], parent_run_id: str) -> str:
    """The story of a finished DAG run: who won and by how much, the comparison, the data checks and
    the registry decision with its reason."""
    metric_column = comparison.columns[1]
    winner = comparison.iloc[0]
    lines = [f"## {config.pipeline}: `{winner['model']}` won "
             f"({metric_column.removeprefix(TEST_METRIC_PREFIX)} {_figure(metric_column, winner[metric_column])})",
             # Second, so that it shows above the UI's "Show more" fold with the winner.
             "", f"**Registry:** `{registered.model_name}` version {registered.version} (`{registered.arch}`) → "
             f"**`@{registered.alias}`**: {_cell(registered.reason)}",
             "", _lineage_line(lineage), "",
             f"### Models on the same test split ({test_rows:,} rows)", "", markdown_table(comparison), ""]
    links = [run_link(experiment_id, child_runs[arch], arch) for arch in comparison["model"] if arch in child_runs]
    if links:
        lines += ["Child runs: " + " · ".join(links), ""]
    # A relative link to the tracking server's artifact endpoint: the UI is served from the same root.
    chart = f"get-artifact?path={quote('comparison/chart.png', safe='')}&run_uuid={parent_run_id}"
    lines += [f"![comparison chart]({chart})", ""]
    lines += _validation_lines(validation)
    lines += ["", "### Promotion", "", _promotion_rule(config)]
    return "\n".join(lines)


def child_description(arch: str, experiment_id: str, parent_run_id: str, pipeline: str) -> str:
    return (f"Architecture `{arch}` of {run_link(experiment_id, parent_run_id, f'the {pipeline} parent run')}, "
            "which compares every model of the DAG run on the same test split.")


def trial_description(arch: str, slot: int, experiment_id: str, parent_run_id: str, pipeline: str) -> str:
    return (f"Hyperparameter search trial {slot} of `{arch}` under "
            f"{run_link(experiment_id, parent_run_id, f'the {pipeline} parent run')}: its params are the sampled "
            "values, its metric `best_val_loss` what the study ranks; compare the trials side by side there.")


def registered_model_description(config: PipelineConfig, label_names: list[str],
                                 output_columns: Mapping[str, str]) -> str:
    name = config.registry.model_name
    lines = [f"**{name}**: a raw-text {config.kind} model from the rnnflow pipeline `{config.pipeline}` "
             f"(`{config.corpus.name}` corpus).", ""]
    if label_names:
        lines += ["Labels: " + ", ".join(f"`{label}`" for label in label_names), ""]
    lines += ["Input: a list of raw strings (or a table with a `text` column); no preprocessing on the "
              "caller's side. Output columns:", ""]
    lines += [f"- `{column}`: {what}" for column, what in output_columns.items()]
    lines += ["", "Promotion: " + _promotion_rule(config), "",
              f"Aliases: {', '.join(f'`@{alias}`' for alias in ALIASES)}. Serve the champion with "
              f"`mlflow models serve -m models:/{name}@champion` or score files with `rnnflow predict {name}`."]
    return "\n".join(lines)


def version_description(arch: str, metrics: Mapping[str, float], lineage: Lineage, training_run_link: str,
                        validation: Mapping[str, str]) -> str:
    """What a version is: its architecture and test metrics, where it came from, its data checks.
    The promotion decision and later alias moves are appended as dated lines."""
    scores = " · ".join(f"{key} {_figure(TEST_METRIC_PREFIX + key, value)}" for key, value in metrics.items())
    return "\n".join([f"`{arch}`, test split: {scores}", "", f"Trained in {training_run_link}.", "",
                      _lineage_line(lineage), "", *_validation_lines(validation)])
