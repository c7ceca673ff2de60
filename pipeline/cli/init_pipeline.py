"""``rnnflow init``: sniff a table and write a commented starter pipeline YAML."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands) -> None:
    parser = commands.add_parser("init", help="sniff a table and write a commented starter pipeline YAML")
    parser.add_argument("--source", required=True, help="a CSV, TSV, JSONL, Parquet or Excel file")
    parser.add_argument("--output", help="where to write the YAML (default: <file stem>.yaml here)")
    parser.add_argument("--name", help="the pipeline's name (default: the file's stem)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing YAML")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.config.scaffold import write_starter

    path = write_starter(Path(args.source), Path(args.output) if args.output else None, args.name, force=args.force)
    print(f"wrote {path}; run it with: rnnflow run --config {path}")
    return 0
