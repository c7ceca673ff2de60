"""Broken rnnflow pipeline files, shown as this file's Airflow import error: it names each broken
YAML and its field where the Airflow UI shows import errors. This file defines no DAG on purpose:
Airflow marks the DAGs of a file with an import error stale, and the pipelines' DAGs live in
``rnnflow_pipelines.py``, so they keep loading and running. (Airflow's safe mode parses only files
that mention both "airflow" and "dag": this docstring does.)
"""

from pipeline.orchestration.workflow import raise_for_broken_pipelines

raise_for_broken_pipelines()
