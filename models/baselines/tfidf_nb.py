"""tfidf_nb: TF-IDF word n-grams, then multinomial naive Bayes."""

from __future__ import annotations

from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline

from models.config import ModelConfig
from models.tfidf import tfidf

# The regularization the validation split chooses, from ModelConfig.nb_alpha_grid.
REGULARIZATION = "nb_alpha"


def build(config: ModelConfig, num_classes: int = 2) -> Pipeline:
    return Pipeline([("tfidf", tfidf(config)), ("classifier", MultinomialNB(alpha=config.nb_alpha))])
