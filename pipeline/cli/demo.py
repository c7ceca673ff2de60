"""``rnnflow demo``: NSMC end to end, or a generated sample corpus when NSMC cannot be downloaded."""

from __future__ import annotations

import argparse

from pipeline import progress
from pipeline.cli import options
from pipeline.cli.airflow_runs import check_corpus_reachable, run_pipeline
from pipeline.cli.console import run_command
from pipeline.cli.env import configure_environment
from pipeline.cli.predict import predict
from pipeline.paths import state_root

# The demo's model when NSMC cannot be downloaded: kept apart from the real nsmc-sentiment.
SAMPLE_MODEL_NAME = "nsmc-sentiment-sample"
SAMPLE_SENTENCES = ["이 영화 정말 재밌어요 배우들 연기도 최고", "완전 지루하고 돈 아까운 영화였다",
                    "스토리가 감동적이라 눈물이 났어요", "최악의 결말 다시는 안 본다"]


def add_parser(commands) -> None:
    parser = commands.add_parser("demo", help="the NSMC pipeline end to end; falls back to a generated sample offline")
    options.add_overrides(parser)
    options.add_output_mode(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return run_command("demo", lambda: run_demo(args.overrides), args.json, args.verbose)


def run_demo(overrides: list[str]) -> dict:
    """NSMC end to end; offline, on the generated sample corpus, said loudly."""
    from pipeline.corpora.errors import CorpusUnavailableError
    from pipeline.corpora.sample import write_sample_corpus

    configure_environment()
    try:
        check_corpus_reachable("nsmc", overrides)
        source = None
    except CorpusUnavailableError as exc:
        source = str(write_sample_corpus(state_root() / "data" / "sample" / "nsmc"))
        # A model of template sentences must never compete with a real NSMC champion.
        overrides = [f"registry.model_name={SAMPLE_MODEL_NAME}", f"tracking.experiment={SAMPLE_MODEL_NAME}",
                     *overrides]
        banner = "!" * 78
        progress.line(f"{banner}\nNSMC COULD NOT BE DOWNLOADED: {str(exc).splitlines()[0]}\n"
                      f"FALLING BACK TO THE GENERATED SAMPLE CORPUS IN {source}\n"
                      f"(template sentences, not real reviews), registered as {SAMPLE_MODEL_NAME}.\n"
                      f"For the real corpus: rnnflow run nsmc --source PATH\n{banner}")
    summary = run_pipeline("nsmc", source, overrides)
    summary["corpus"] = "generated sample" if source else "NSMC"
    summary["champion_predictions"] = predict(summary["registered"]["model_name"], SAMPLE_SENTENCES)
    return summary

