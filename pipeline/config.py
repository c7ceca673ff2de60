"""One typed, frozen configuration per pipeline run.

A run's config comes from the pipeline's YAML file (``pipeline/configs/<name>.yaml``) plus
overrides (``--set key=value`` on the CLI, DAG params in Airflow). It is validated on load; an
error names the offending field. The resolved config is hashed, so every artifact and registry
version can say exactly which config produced it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CONFIG_DIR = Path(__file__).parent / "configs"


TRANSLATION_CORPORA = ("aihub", "line_aligned", "tsv_pairs")


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the field."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CorpusConfig(_Frozen):
    # The reader (pipeline/corpora/readers.py): NSMC TSV files, the Reuters-21578 SGML
    # distribution (a local folder), or Keras' reuters.npz + reuters_word_index.json.
    name: Literal["nsmc", "reuters_sgml", "reuters_npz", "aihub", "line_aligned", "tsv_pairs"] = "nsmc"
    # Reuters-21578 SGML: the single-topic subset to build ("r8" or "r52").
    subset: Literal["r8", "r52"] | None = None
    # A local folder holding the corpus files; None downloads from `urls` into the data root.
    source: str | None = None
    urls: dict[str, str] = Field(default_factory=dict)
    sha256: dict[str, str] = Field(default_factory=dict)
    # Only for files whose publisher records no sha256 (Keras' reuters_word_index.json).
    md5: dict[str, str] = Field(default_factory=dict)
    # Fraction of the train file held out as the validation split (seeded, recorded).
    valid_fraction: float = Field(0.1, ge=0.0, lt=0.5)
    # Repeated documents are dropped from the train file (they overweight a few reviews); the
    # test file is the published benchmark and is kept whole (its repeats are only counted).
    drop_train_duplicates: bool = True
    max_rows_per_split: int | None = Field(None, gt=0)
    download_timeout_seconds: float = Field(30.0, gt=0)
    # Parallel corpora (aihub, line_aligned, tsv_pairs): which side is which, where the columns
    # are, how pairs are filtered and split. Lengths are whitespace words of each side.
    source_lang: str = "ko"
    target_lang: str = "en"
    file_glob: str = "*.xlsx"
    columns: dict[str, str] = Field(default_factory=lambda: {"id": "SID", "source": "원문", "target": "번역문"})
    tsv_columns: tuple[int, int] = (0, 1)
    min_words: int = Field(1, ge=1)
    max_words: int | None = Field(None, ge=1)
    test_fraction: float = Field(0.1, ge=0.0, lt=0.5)
    # Keep at most this many pairs (after filtering, a seeded sample): for quick runs.
    max_pairs: int | None = Field(None, gt=0)


class TextConfig(_Frozen):
    # Which characters survive cleaning: "hangul" keeps Hangul syllables and jamo only (the
    # lecture recipe); "hangul_basic" also keeps digits, Latin letters and ! ? . ~ ^ which carry
    # sentiment in reviews ("ㅋㅋ", "!!", "10점").
    keep: Literal["hangul", "hangul_basic", "all"] = "hangul_basic"
    lowercase: bool = True
    # Runs of one character longer than this are shortened ("ㅋㅋㅋㅋㅋㅋ" -> "ㅋㅋㅋ").
    max_char_repeat: int | None = Field(3, ge=1)
    tokenizer: Literal["mecab", "okt", "komoran", "kkma", "hannanum", "english", "chars", "whitespace"] = "mecab"
    # Tokenizer options, e.g. {"stem": true} for Okt; recorded with every model.
    tokenizer_options: dict[str, Any] = Field(default_factory=dict)
    stopwords: list[str] = Field(default_factory=list)
    min_freq: int = Field(2, ge=1)
    max_vocab: int | None = Field(None, ge=3)
    # A translation's target side only: split the tokenizer's words into at most this many
    # sentencepiece BPE pieces learned on the train split (pipeline.text.subword). None: words.
    subword_vocab_size: int | None = Field(None, ge=16)
    # Sequence length: fixed when set, else this percentile of train token counts.
    max_len: int | None = Field(None, ge=1)
    max_len_percentile: float = Field(95.0, gt=0, le=100)
    # Which end of an over-long text is cut: "start" keeps the ending, where Korean puts the
    # predicate that carries most sentiment.
    truncate_from: Literal["start", "end"] = "start"
    workers: int | None = Field(None, ge=1)
    chunk_size: int = Field(2000, ge=1)


class ModelConfig(_Frozen):
    """Every builder's whole interface; each builder reads the fields it needs."""

    embedding_dim: int = Field(100, ge=1)
    units: int = Field(128, ge=1)
    dropout_rate: float = Field(0.3, ge=0.0, lt=1.0)
    # Recurrent layers in the stacked builder.
    depth: int = Field(2, ge=1)
    # CNN-LSTM: Conv1D filters and kernel, then MaxPooling1D.
    conv_filters: int = Field(64, ge=1)
    kernel_size: int = Field(5, ge=1)
    pool_size: int = Field(2, ge=1)
    # Attention pooling: "bahdanau" (additive) or "dot" (Luong dot-product) scoring.
    attention_score: Literal["bahdanau", "dot"] = "bahdanau"
    attention_units: int = Field(64, ge=1)
    # TF-IDF baselines: word n-grams up to this length, kept when in at least min_df train texts.
    baseline_max_ngram: int = Field(2, ge=1)
    baseline_min_df: int = Field(2, ge=1)
    nb_alpha: float = Field(1.0, gt=0)
    logreg_c: float = Field(1.0, gt=0)
    # Seq2seq: a bidirectional LSTM encoder (the decoder then has 2 * units).
    bidirectional_encoder: bool = False


class DecodeConfig(_Frozen):
    """Translation decoding: evaluation runs greedy and beam search; serving takes these defaults."""

    beam_width: int = Field(5, ge=1)
    # GNMT length penalty exponent: 0 ranks by raw log-probability (favours short outputs).
    length_penalty: float = Field(1.0, ge=0.0)
    # Outputs stop here at the latest: this many tokens beyond the longest train target.
    max_extra_tokens: int = Field(5, ge=0)
    batch_size: int = Field(128, ge=1)


class TrainConfig(_Frozen):
    models: list[str] = Field(default_factory=lambda: ["lstm"], min_length=1)
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(256, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    early_stopping_patience: int = Field(2, ge=0)
    seed: int = 42
    # float16 compute with float32 weights on GPUs that support it (outputs stay float32).
    mixed_precision: bool = False


class RegistryConfig(_Frozen):
    model_name: str = Field("nsmc-sentiment", min_length=1)
    # The metric that picks the best model of a run and gates promotion to @champion.
    metric: Literal["accuracy", "f1", "macro_f1", "bleu", "chrf"] = "accuracy"
    # A challenger must beat the champion by more than this to take the alias.
    min_improvement: float = Field(0.0, ge=0.0)


class TrackingConfig(_Frozen):
    # None: MLFLOW_TRACKING_URI from the environment, else the project's local SQLite store.
    tracking_uri: str | None = None
    experiment: str = "nsmc-sentiment"


class PipelineConfig(_Frozen):
    pipeline: str
    data_root: str = "data"
    corpus: CorpusConfig = Field(default_factory=CorpusConfig)
    text: TextConfig = Field(default_factory=TextConfig)
    # Translation only: the target side's text processing (`text` is then the source side).
    target_text: TextConfig | None = None
    decode: DecodeConfig = Field(default_factory=DecodeConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @model_validator(mode="after")
    def _subset_fits_corpus(self) -> "PipelineConfig":
        if self.corpus.name == "reuters_sgml" and self.corpus.subset is None:
            raise ValueError("corpus.subset: reuters_sgml needs a single-topic subset, 'r8' or 'r52'")
        if self.corpus.name != "reuters_sgml" and self.corpus.subset is not None:
            raise ValueError(f"corpus.subset: only reuters_sgml has subsets (corpus.name is {self.corpus.name!r})")
        return self

    @property
    def task(self) -> str:
        return "translation" if self.corpus.name in TRANSLATION_CORPORA else "classification"

    @model_validator(mode="after")
    def _models_fit_task(self) -> "PipelineConfig":
        from models.registry import is_seq2seq

        wrong = [name for name in self.train.models if is_seq2seq(name) != (self.task == "translation")]
        if wrong:
            raise ValueError(f"train.models: {wrong} cannot train on a {self.task} corpus ({self.corpus.name})")
        if self.text.subword_vocab_size is not None:
            raise ValueError("text.subword_vocab_size: subword pieces are for a translation's target side "
                             "(target_text.subword_vocab_size)")
        if self.task == "translation":
            if self.target_text is None:
                raise ValueError("target_text: a translation corpus needs the target side's text settings")
            if self.target_text.tokenizer == "chars" and self.target_text.subword_vocab_size is not None:
                raise ValueError("target_text.subword_vocab_size: character-level targets are not split into "
                                 "subword pieces; set it to null with target_text.tokenizer=chars")
            if self.registry.metric not in ("bleu", "chrf"):
                raise ValueError(f"registry.metric: translation models are ranked by bleu or chrf, "
                                 f"not {self.registry.metric}")
        elif self.registry.metric in ("bleu", "chrf"):
            raise ValueError(f"registry.metric: {self.registry.metric} is for translation corpora")
        return self

    @model_validator(mode="after")
    def _known_models(self) -> "PipelineConfig":
        from models.registry import available_builders

        unknown = [name for name in self.train.models if name not in available_builders()]
        if unknown:
            raise ValueError(
                f"train.models: unknown model(s) {unknown}; known: {sorted(available_builders())}"
            )
        return self

    def data_dir(self) -> Path:
        from pipeline.paths import resolve

        return resolve(self.data_root)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=True, allow_unicode=True)

    def config_hash(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def flat_params(self) -> dict[str, str]:
        """Dotted key -> value string, for MLflow params."""
        return {key: json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
                for key, value in _flatten(self.to_dict())}


def _flatten(data: dict[str, Any], prefix: str = ""):
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value) \
                and dotted not in {"text.tokenizer_options", "corpus.urls", "corpus.sha256", "corpus.md5", "corpus.columns"}:
            yield from _flatten(value, dotted + ".")
        else:
            yield dotted, value


def parse_override(item: str) -> tuple[str, Any]:
    """``"train.epochs=3"`` -> ``("train.epochs", 3)``; the value is parsed as YAML."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {item!r}: expected key=value, e.g. train.epochs=3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {key}: value {raw!r} is not valid YAML: {exc}") from exc
    return key, value


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys in a nested dict (a copy); unknown keys are caught by validation."""
    merged = json.loads(json.dumps(data))
    for dotted, value in overrides.items():
        node = merged
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {dotted}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return merged


def load_config(pipeline: str | Path, overrides: dict[str, Any] | list[str] | None = None) -> PipelineConfig:
    """Load ``pipeline`` (a name under pipeline/configs or a YAML path), apply overrides, validate."""
    path = Path(pipeline)
    if not path.suffix:
        path = CONFIG_DIR / f"{pipeline}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ConfigError(f"config {path}: no such file (known pipelines: {known})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: top level must be a mapping")
    if isinstance(overrides, list):
        overrides = dict(parse_override(item) for item in overrides)
    data = apply_overrides(data, overrides or {})
    return validate_config(data, origin=str(path))


def validate_config(data: dict[str, Any], origin: str = "<dict>") -> PipelineConfig:
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "<root>"
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown field"
            elif "input" in error and error["type"] != "value_error":
                message += f" (got {error['input']!r})"
            problems.append(f"{field}: {message}")
        raise ConfigError(f"config {origin} is invalid:\n  " + "\n  ".join(problems)) from None


def config_from_yaml_text(text: str, origin: str) -> PipelineConfig:
    return validate_config(yaml.safe_load(text), origin=origin)
