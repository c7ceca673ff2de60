"""
### AI Hub translation: weekly retrain of the Korean -> English translator

ingest -> preprocess -> train (one mapped task per encoder-decoder variant) -> evaluate -> register/promote.

The corpus is a local folder (AI Hub needs a login): its `.xlsx` files (`SID`, `원문`, `번역문`),
or, with `corpus`, line-aligned `.ko`/`.en` files (`line_aligned`) or tab-separated pairs
(`tsv_pairs`, e.g. `fra.txt`). Variants: plain LSTM encoder-decoder, Luong (dot) and Bahdanau
(additive) attention. Evaluation: corpus BLEU and chrF for greedy and beam search on the same
test split, sample translations, alignment heatmaps. The best by beam-search BLEU is registered
as `koen-translator` and takes `@champion` only if it beats the champion on the same test split.
"""

from __future__ import annotations

from airflow.sdk import Param

from pipeline.workflow import common_params, training_dag

aihub_translation_dag = training_dag(
    dag_id="aihub_translation",
    pipeline="aihub_translation",
    doc_md=__doc__,
    tags=["translation", "seq2seq", "korean", "english"],
    params={
        **common_params(Param(None, type=["null", "string"],
                              description="Local folder of AI Hub .xlsx files (or aligned files / a TSV file "
                                          "with corpus=line_aligned / tsv_pairs).")),
        "corpus": Param(None, type=["null", "string"], enum=[None, "aihub", "line_aligned", "tsv_pairs"]),
    },
)
