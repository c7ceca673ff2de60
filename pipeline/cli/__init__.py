"""Layer: command line. ``rnnflow`` and its commands, one module each (``run``, ``tune``,
``init_pipeline``, ``demo``, ``predict``, ``promote``, ``serve``, ``lineage``, ``env``), each a library
function plus its argparse wiring; ``main`` builds the parser, ``options`` holds the option groups
several commands share, ``airflow_runs`` everything done inside Airflow, and ``console`` what a run
shows on the terminal.
"""

from pipeline.cli.main import main

__all__ = ["main"]
