"""The TF-IDF features of the bag-of-words baselines (``models/baselines/``), over the pipeline's own tokens.

They take the same space-joined tokens as the neural models' vocabulary (so tokenization is
shared) and compete for ``@champion`` on equal terms.
"""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer

from models.config import ModelConfig


def tfidf(config: ModelConfig) -> TfidfVectorizer:
    # Input is already tokenized and cleaned: split on the spaces that join the tokens.
    return TfidfVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False,
                           ngram_range=(1, config.baseline_max_ngram), min_df=config.baseline_min_df,
                           sublinear_tf=True)
