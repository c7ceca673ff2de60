"""``rnnflow predict``: texts or a table file through a registered model (``@champion``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipeline.cli.env import configure_environment
from pipeline.names import CHAMPION


def predict(model_name: str, texts: list[str], alias: str = CHAMPION) -> list[dict]:
    import mlflow.pyfunc

    from pipeline.serving.batch import version_of_alias

    configure_environment()
    model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version_of_alias(model_name, alias)}")
    predictions = model.predict(texts)
    return [{"text": text, **row} for text, row in zip(texts, predictions.to_dict(orient="records"))]


def predict_file(model_name: str, alias: str, input_path: Path, output_path: Path, text_column: str) -> str:
    from pipeline.serving.batch import score_file, version_of_alias

    configure_environment()
    scored = score_file(model_name, version_of_alias(model_name, alias), input_path, output_path, text_column)
    counts = ", ".join(f"{label} {count}" for label, count in scored.label_counts.items())
    return (f"scored {scored.rows} rows of {input_path} with {model_name} version {scored.model_version} (@{alias}) "
            f"in {scored.seconds} s -> {output_path}" + (f" ({counts})" if counts else "")
            + f"; MLflow run {scored.run_id} in experiment {model_name}-batch")


def add_parser(commands) -> None:
    parser = commands.add_parser("predict", help="predict texts or a table file with a registered model (@champion)")
    parser.add_argument("model_name")
    parser.add_argument("texts", nargs="*", help="texts to predict (printed as JSON lines)")
    parser.add_argument("--alias", default=CHAMPION)
    parser.add_argument("--input", help="a CSV, TSV, JSONL, Parquet or Excel file to score instead of TEXTs")
    parser.add_argument("--output", help="where --input's predictions go (.parquet, .csv or .jsonl)")
    parser.add_argument("--text-column", default="text", help="--input's text column (a one-column file needs none)")
    parser.set_defaults(handler=run, parser=parser, quiet_mlflow=True)


def run(args: argparse.Namespace) -> int:
    if bool(args.texts) == bool(args.input) or bool(args.input) != bool(args.output):
        args.parser.error("predict: give TEXTs, or --input FILE with --output FILE")
    if args.input:
        print(predict_file(args.model_name, args.alias, Path(args.input), Path(args.output), args.text_column))
    else:
        for row in predict(args.model_name, args.texts, args.alias):
            print(json.dumps(row, ensure_ascii=False))
    return 0
