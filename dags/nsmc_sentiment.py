"""
### NSMC sentiment: weekly retrain of the Korean movie-review classifier

ingest -> preprocess -> train (one mapped task per architecture) -> evaluate -> register/promote.

The run's config (`pipeline/configs/nsmc.yaml` + params) is resolved once, frozen to a file and
logged to MLflow. Every architecture is an MLflow child run under one parent run; the parent gets
the comparison table and chart. The best by `registry.metric` is registered as `nsmc-sentiment`
and takes `@champion` only if it beats the champion on the same test split.
"""

from __future__ import annotations

from airflow.sdk import Param

from pipeline.workflow import training_dag, common_params

nsmc_sentiment_dag = training_dag(
    dag_id="nsmc_sentiment",
    pipeline="nsmc",
    doc_md=__doc__,
    tags=["nsmc", "sentiment", "korean"],
    params=common_params(Param(None, type=["null", "string"],
                               description="Local folder with ratings_train.txt/ratings_test.txt; empty downloads NSMC.")),
)
