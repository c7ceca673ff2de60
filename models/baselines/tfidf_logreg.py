"""tfidf_logreg: TF-IDF word n-grams, then logistic regression."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from models.config import ModelConfig
from models.tfidf import tfidf

# The regularization the validation split chooses, from ModelConfig.logreg_c_grid.
REGULARIZATION = "logreg_c"


def build(config: ModelConfig, num_classes: int = 2) -> Pipeline:
    return Pipeline([("tfidf", tfidf(config)), ("classifier", LogisticRegression(C=config.logreg_c, max_iter=2000))])
