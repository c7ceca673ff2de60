"""
### Reuters topics: weekly retrain of the English newswire topic classifier

ingest -> preprocess -> train (one mapped task per architecture) -> evaluate -> register/promote.

The corpus is Keras' `reuters.npz` (46 topics, downloaded and checked) by default, or the
Reuters-21578 SGML distribution from a local folder with `corpus: reuters_sgml` and
`subset: r8 | r52` (ModApte split, single-topic documents). Softmax classifiers; macro-F1,
top-3 accuracy and a per-class report for each model. The best is registered as
`reuters-topics` and takes `@champion` only if it beats the champion on the same test split.
"""

from __future__ import annotations

from airflow.sdk import Param

from pipeline.workflow import training_dag, common_params

reuters_topics_dag = training_dag(
    dag_id="reuters_topics",
    pipeline="reuters",
    doc_md=__doc__,
    tags=["reuters", "topics", "english"],
    params={
        **common_params(Param(None, type=["null", "string"],
                              description="Local folder with reuters.npz + reuters_word_index.json, or the "
                                          "Reuters-21578 reut2-*.sgm files (with corpus=reuters_sgml); "
                                          "empty downloads reuters.npz.")),
        "corpus": Param(None, type=["null", "string"], enum=[None, "reuters_npz", "reuters_sgml"]),
        "subset": Param(None, type=["null", "string"], enum=[None, "r8", "r52"],
                        description="Reuters-21578 single-topic subset (corpus=reuters_sgml)."),
    },
)
