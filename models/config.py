"""The model builders' whole interface: one small frozen config (the pipeline embeds it as ``model``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FrozenConfig(BaseModel):
    """Immutable, and an unknown field is an error (a typo must not be silently ignored)."""

    # A field's docstring (the string under it) is its description: docs/configuration.md and the
    # Airflow trigger form show it.
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class ModelConfig(FrozenConfig):
    """Every builder reads the fields it needs."""

    embedding_dim: int = Field(100, ge=1)
    """Width of each token's embedding vector."""
    units: int = Field(128, ge=1)
    """Units of each recurrent layer (per direction for bidirectional layers)."""
    dropout_rate: float = Field(0.3, ge=0.0, lt=1.0)
    """Dropout on the recurrent layers' inputs and on the layer before the classifier head."""
    depth: int = Field(2, ge=1)
    """Recurrent layers in the stacked builder."""
    conv_filters: int = Field(64, ge=1)
    """CNN-LSTM: Conv1D filters and kernel, then MaxPooling1D."""
    kernel_size: int = Field(5, ge=1)
    """CNN-LSTM: the Conv1D kernel width."""
    pool_size: int = Field(2, ge=1)
    """CNN-LSTM: the MaxPooling1D window."""
    attention_score: Literal["bahdanau", "dot"] = "bahdanau"
    """Attention pooling: "bahdanau" (additive) or "dot" (Luong dot-product) scoring."""
    attention_units: int = Field(64, ge=1)
    """Width of the additive attention's hidden layer."""
    baseline_max_ngram: int = Field(2, ge=1)
    """TF-IDF baselines: word n-grams up to this length, kept when in at least min_df train texts."""
    baseline_min_df: int = Field(2, ge=1)
    """TF-IDF baselines: keep an n-gram only when it occurs in at least this many train texts."""
    nb_alpha: float = Field(1.0, gt=0)
    """Naive Bayes smoothing, tried beside nb_alpha_grid."""
    logreg_c: float = Field(1.0, gt=0)
    """Logistic regression's inverse regularization strength, tried beside logreg_c_grid."""
    baseline_max_ngram_grid: tuple[Annotated[int, Field(ge=1)], ...] = (1, 2, 3)
    """... and their choice on the validation split: every n-gram length, with the regularization values of the
    model's grid plus the single value above (an empty grid: the values above only), walked upwards until two
    values in a row bring no better score."""
    logreg_c_grid: tuple[Annotated[float, Field(gt=0)], ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 32.0, 128.0, 512.0)
    """The regularization values the logistic regression baseline chooses from on the validation split."""
    nb_alpha_grid: tuple[Annotated[float, Field(gt=0)], ...] = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    """The smoothing values the Naive Bayes baseline chooses from on the validation split."""
    bidirectional_encoder: bool = False
    """Seq2seq: a bidirectional LSTM encoder (the decoder then has 2 * units)."""
    embedding_init: Literal["random", "word2vec", "fasttext", "file"] = "random"
    """A classifier's embedding starts from: random weights; word vectors trained on the train split's own tokens
    (word2vec; fasttext, which adds character n-grams, so rare words get vectors from their pieces); or a local
    vectors file in word2vec text or binary (.bin) format (embedding_vectors_path, of embedding_dim dimensions).
    Words without a vector start random."""
    embedding_algorithm: Literal["skip_gram", "cbow"] = "skip_gram"
    """How word2vec or fasttext learns from the train split: skip-gram predicts a word's neighbours from it (better
    vectors for rare words and small corpora); cbow predicts a word from its neighbours, about 3 times faster
    (NSMC, 1.9 M train tokens, 2 cores: 37 against 116 s)."""
    embedding_vectors_path: str | None = None
    """The word-vector file that embedding_init: file starts the embedding from (null otherwise)."""

    @model_validator(mode="after")
    def _vectors_file_with_file_init(self) -> ModelConfig:
        if (self.embedding_init == "file") != (self.embedding_vectors_path is not None):
            raise ValueError("embedding_vectors_path is needed with embedding_init: file, and only with it "
                             f"(embedding_init is {self.embedding_init!r})")
        return self
