"""Bag-of-words baselines outside Keras: TF-IDF over the pipeline's own tokens, then a linear model.

They take the same space-joined tokens as the neural models' vocabulary (so tokenization is
shared) and compete for ``@champion`` on equal terms.
"""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline

from pipeline.config import ModelConfig


def tfidf(config: ModelConfig) -> TfidfVectorizer:
    # Input is already tokenized and cleaned: split on the spaces that join the tokens.
    return TfidfVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False,
                           ngram_range=(1, config.baseline_max_ngram), min_df=config.baseline_min_df,
                           sublinear_tf=True)


def build_tfidf_nb(config: ModelConfig, num_classes: int = 2) -> Pipeline:
    return Pipeline([("tfidf", tfidf(config)), ("classifier", MultinomialNB(alpha=config.nb_alpha))])


def build_tfidf_logreg(config: ModelConfig, num_classes: int = 2) -> Pipeline:
    classifier = LogisticRegression(C=config.logreg_c, max_iter=2000)
    return Pipeline([("tfidf", tfidf(config)), ("classifier", classifier)])
