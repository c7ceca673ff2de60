"""Batch scoring: a table of texts in, one Parquet file of predictions out, tracked as an MLflow run.

One function does the work for both callers: the ``<dag_id>_batch`` DAG, which scores every file
in a pipeline's inbox, and ``rnnflow predict NAME --input FILE --output FILE``. The output keeps
the input's columns and row numbers and adds the model's (label and probability for a
classifier, translation and score for a translator), the model version and the input's digest,
so any prediction can be traced to the file and the model that made it. It is written to a
temporary file and renamed into place: a crash leaves no half-written output, and the inbox
scorer names each output by input digest and model version, so a rerun skips what is done.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.corpora.errors import CorpusFormatError
from pipeline.corpora.tables import ROW, SUFFIX_FORMATS, TableFiles, load_table
from pipeline.errors import NotFound
from pipeline.io import atomic_path, sha256_file
from pipeline.names import BATCH_INPUT_TAG, MODEL_NAME_TAG, MODEL_VERSION_TAG

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

# Added to every output row (the model's own columns come between the input's and these).
MODEL_NAME_COLUMN, MODEL_VERSION_COLUMN, INPUT_DIGEST_COLUMN = "model_name", "model_version", "input_digest"
OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl"}
# Rows per predict call: bounds memory on a large file; the model batches inside each chunk.
CHUNK_ROWS = 20_000


class BatchInputError(CorpusFormatError):
    """An input file that cannot be scored; the message names the file and the column."""


@dataclass(frozen=True)
class ScoredFile:
    input: str
    output: str
    input_digest: str
    model_name: str
    model_version: str
    rows: int
    seconds: float
    run_id: str
    label_counts: dict[str, int]

    def to_dict(self) -> dict:
        return asdict(self)


def scoring_experiment(model_name: str) -> str:
    """Batch runs get their own experiment, so a model's training comparisons stay uncluttered."""
    return f"{model_name}-batch"


class NoSuchModel(NotFound):
    """The registry has no such model or alias; the message says which exist."""


def version_of_alias(model_name: str, alias: str) -> str:
    """The version an alias points at now; scoring pins it, so one batch uses one model."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        known = sorted(model.name for model in client.search_registered_models())
        raise NoSuchModel(f"no model {model_name}@{alias} in {mlflow.get_tracking_uri()} "
                          f"(registered models: {known})") from None


def read_texts(path: Path, text_column: str) -> tuple[pd.DataFrame, str]:
    """The input table as strings (``__row__`` = its row number) and the name of its text column."""
    table = load_table(path, TableFiles())
    columns = [column for column in table.columns if column != ROW]
    if text_column not in columns:
        if len(columns) != 1:
            raise BatchInputError(f"{path}: no text column {text_column!r}; columns are {columns} "
                                  f"(name one with --text-column or batch.text_column)")
        text_column = columns[0]
    empty = table.index[table[text_column].str.strip() == ""]
    if len(empty):
        rows = table.loc[empty[:5], ROW].tolist()
        raise BatchInputError(f"{path}: column {text_column!r} is empty in {len(empty)} row(s), first at row(s) "
                              f"{rows}; remove them or fill them in")
    return table, text_column


def predict_texts(model, texts: list[str]) -> pd.DataFrame:
    """The model's columns for every text, predicted ``CHUNK_ROWS`` at a time (attention left out)."""
    import pandas as pd

    parts = [model.predict(texts[start:start + CHUNK_ROWS]).reset_index(drop=True)
             for start in range(0, len(texts), CHUNK_ROWS)]
    return pd.concat(parts, ignore_index=True).drop(columns=["attention"], errors="ignore")


def with_predictions(table: pd.DataFrame, predicted: pd.DataFrame) -> pd.DataFrame:
    """The input's columns (``row`` first), then the model's; an input column the model also
    returns (a ``label`` in a labelled file, say) is kept as ``input_<name>``."""
    import pandas as pd

    inputs = table.rename(columns={ROW: "row"})
    inputs = inputs.rename(columns={c: f"input_{c}" for c in predicted.columns if c in inputs.columns})
    inputs = inputs[["row", *[c for c in inputs.columns if c != "row"]]].reset_index(drop=True)
    return pd.concat([inputs, predicted], axis=1)


def write_table(frame: pd.DataFrame, output: Path) -> None:
    fmt = OUTPUT_FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise BatchInputError(f"{output}: cannot tell the output format from the suffix {output.suffix!r}; "
                              f"use one of {sorted(OUTPUT_FORMATS)}")
    with atomic_path(output) as tmp:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        elif fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)


def score_file(model_name: str, version: str, input_path: Path, output_path: Path, text_column: str = "text",
               model=None, context: dict[str, str] | None = None) -> ScoredFile:
    """Score one table file with ``models:/<model_name>/<version>`` into ``output_path``, as one
    MLflow run in the ``<model_name>-batch`` experiment. ``model`` reuses a loaded pyfunc;
    ``context`` adds tags (the Airflow DAG run that asked, say)."""
    import mlflow

    from pipeline.tracking.store import experiment_id

    input_path, output_path = Path(input_path), Path(output_path)
    table, text_column = read_texts(input_path, text_column)
    digest = sha256_file(input_path)
    # An experiment id, not mlflow.set_experiment: that would change the process's active experiment,
    # and a later task in the same process (a Celery worker, dag.test) resuming its own run would fail.
    experiment = experiment_id(mlflow.MlflowClient(), scoring_experiment(model_name),
                               f"Batch scoring with `{model_name}`: one run per scored file, tagged with the "
                               "model version, the input's digest and the label counts of the predictions.")
    with mlflow.start_run(experiment_id=experiment, run_name=f"{input_path.name} v{version}",
                          tags={BATCH_INPUT_TAG: str(input_path), MODEL_NAME_TAG: model_name,
                                MODEL_VERSION_TAG: version, **(context or {})}) as run:
        mlflow.log_params({"model_uri": f"models:/{model_name}/{version}", "input": str(input_path),
                           "input_sha256": digest, "text_column": text_column, "output": str(output_path),
                           "rows": len(table)})
        if model is None:
            model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
        started = time.perf_counter()
        predicted = predict_texts(model, table[text_column].tolist())
        seconds = time.perf_counter() - started
        output = with_predictions(table, predicted)
        output[MODEL_NAME_COLUMN], output[MODEL_VERSION_COLUMN], output[INPUT_DIGEST_COLUMN] = \
            model_name, version, digest
        write_table(output, output_path)
        counts = predicted["label"].value_counts().to_dict() if "label" in predicted.columns else {}
        mlflow.log_metrics({"rows": len(table), "seconds": seconds,
                            "rows_per_second": len(table) / seconds if seconds else 0.0,
                            **{f"predicted_share.{label}": count / len(table) for label, count in counts.items()}})
        mlflow.log_dict({"label_counts": counts, "output": str(output_path)}, "batch/summary.json")
    log.info("scored %s (%d rows) with %s v%s into %s", input_path, len(table), model_name, version, output_path)
    return ScoredFile(str(input_path), str(output_path), digest, model_name, version, len(table),
                      round(seconds, 3), run.info.run_id, {str(k): int(v) for k, v in counts.items()})


def inbox_files(inbox: Path) -> list[Path]:
    """Table files waiting in the inbox, oldest first. Hidden files and ``.tmp``/``.part`` files
    are being written (copy a file in under another name, then rename it) and are left alone."""
    if not inbox.is_dir():
        return []
    found = [path for path in inbox.iterdir()
             if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in SUFFIX_FORMATS]
    return sorted(found, key=lambda path: (path.stat().st_mtime, path.name))


def output_for(outbox: Path, input_path: Path, version: str, digest: str) -> Path:
    """Named by input digest and model version: the same file scored by the same version again is a no-op."""
    return outbox / f"{input_path.stem}.v{version}.{digest[:12]}.parquet"


def pending(inbox: Path, outbox: Path, version: str) -> list[dict]:
    """The inbox files this version has not scored yet, each with the output it will get."""
    work = []
    for path in inbox_files(inbox):
        output = output_for(outbox, path, version, sha256_file(path))
        if not output.exists():
            work.append({"input": str(path), "output": str(output)})
    return work


def reject(path: Path, reason: str) -> Path:
    """Move a file that cannot be scored to ``rejected/`` beside it, with ``<name>.error.txt``."""
    rejected = path.parent / "rejected"
    rejected.mkdir(exist_ok=True)
    target = rejected / path.name
    with atomic_path(rejected / f"{path.name}.error.txt") as tmp:
        tmp.write_text(reason + "\n", encoding="utf-8")
    path.replace(target)
    return target
