"""Layer: orchestration. Airflow: the DAG factory, the thin task glue that calls one stage each,
which process owns a DAG run, stop signals, and the deployment's start-up check of its secrets.
"""
