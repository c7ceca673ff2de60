"""Option groups that several commands share, declared once."""

from __future__ import annotations

import argparse


def add_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", help="local corpus file or folder (skips the download)")


def add_overrides(parser: argparse.ArgumentParser, example: str = "--set train.epochs=3") -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help=f"config override, e.g. {example} (repeatable)")


def add_output_mode(parser: argparse.ArgumentParser) -> None:
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print only the run's JSON summary line")
    shown.add_argument("--verbose", action="store_true", help="show Airflow, TensorFlow and MLflow logs too")
