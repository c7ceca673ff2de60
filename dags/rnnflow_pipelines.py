"""Every rnnflow pipeline file becomes a scheduled Airflow training DAG.

The pipelines are the YAML files under ``pipeline/configs/`` and, with ``RNNFLOW_PIPELINES`` set,
the user's own folder of pipeline files; each one's DAG id, schedule, tags and docs come from
its ``dag:`` section (see ``pipeline/orchestration/workflow.py``). (Airflow's safe mode parses only files that
mention both "airflow" and "dag": this docstring does.)
"""

from pipeline.orchestration.workflow import pipeline_dags

globals().update(pipeline_dags())
