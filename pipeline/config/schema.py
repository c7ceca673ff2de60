"""One typed, frozen configuration per pipeline run.

A run's config comes from the pipeline's YAML file plus overrides (``--set key=value`` on the CLI,
DAG params in Airflow). It is validated on load; an error names the offending field. The resolved
config is hashed, so every artifact and registry version can say exactly which config produced it.

The ``corpus`` section is one reader's section (``pipeline/corpora/readers/<name>.py``), chosen by
``corpus.name``: a field that the reader does not read is an error naming reader and field. The
reader decides the task kind (classification or translation); what a kind accepts (architecture
families, ranking metrics, a second text side) comes from ``pipeline.names``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import yaml
from pydantic import Field, model_validator

from models.config import FrozenConfig, ModelConfig
from pipeline import names
from pipeline.corpora import corpus_sections
from pipeline.errors import BadInput


class ConfigError(BadInput, ValueError):
    """A config file or override is invalid; the message names the field."""


# The corpus section: one reader's own section, picked by corpus.name. The union is built from the
# readers found at run time, so a type checker cannot know it; each kind reads its readers' fields.
if TYPE_CHECKING:
    CorpusConfig = Any
else:
    CorpusConfig = Annotated[Union[tuple(corpus_sections())], Field(discriminator="name")]  # noqa: UP007


class TextConfig(FrozenConfig):
    keep: Literal["hangul", "hangul_basic", "all"] = "hangul_basic"
    """Which characters survive cleaning: "hangul" keeps Hangul syllables and jamo only (the lecture recipe);
    "hangul_basic" also keeps digits, Latin letters and ! ? . ~ ^ which carry sentiment in reviews ("ㅋㅋ", "!!",
    "10점")."""
    lowercase: bool = True
    """Lowercase the text before tokenizing."""
    max_char_repeat: int | None = Field(3, ge=1)
    """Runs of one character longer than this are shortened ("ㅋㅋㅋㅋㅋㅋ" -> "ㅋㅋㅋ")."""
    tokenizer: Literal[names.TOKENIZERS] = "mecab"
    """The tokenizer: mecab (fast MeCab-ko), a konlpy tagger (okt, komoran, kkma, hannanum), english, chars or
    whitespace."""
    tokenizer_options: dict[str, Any] = Field(default_factory=dict)
    """Tokenizer options, e.g. {"stem": true} for Okt; recorded with every model."""
    stopwords: list[str] = Field(default_factory=list)
    """Tokens dropped after tokenizing."""
    min_freq: int = Field(2, ge=1)
    """A token joins the vocabulary when it occurs at least this often in the train split."""
    max_vocab: int | None = Field(None, ge=3)
    """The vocabulary's largest size, special tokens included (null: no limit)."""
    subword_vocab_size: int | None = Field(None, ge=16)
    """Split the tokenizer's words into at most this many sentencepiece BPE pieces learned on the train split
    (pipeline.text.subword): a classifier's input, or a translation's target side. None: words."""
    max_len: int | None = Field(None, ge=1)
    """Sequence length: fixed when set, else this percentile of train token counts."""
    max_len_percentile: float = Field(95.0, gt=0, le=100)
    """Sequences are padded or cut to this percentile of the train split's lengths."""
    truncate_from: Literal["start", "end"] = "start"
    """Which end of an over-long text is cut: "start" keeps the ending, where Korean puts the predicate that
    carries most sentiment."""
    workers: int | None = Field(None, ge=1)
    """Tokenizer processes (null: one per core)."""
    chunk_size: int = Field(2000, ge=1)
    """Texts per chunk handed to a tokenizer process."""

    @model_validator(mode="after")
    def _tokenizer_takes_its_options(self) -> TextConfig:
        allowed = names.TOKENIZER_OPTIONS[self.tokenizer]
        unknown = sorted(set(self.tokenizer_options) - set(allowed))
        if unknown:
            raise ValueError(f"tokenizer_options: tokenizer {self.tokenizer!r}: unknown option(s) {unknown}; "
                             f"allowed: {sorted(allowed)}")
        return self


class DecodeConfig(FrozenConfig):
    """Translation decoding: evaluation runs greedy and beam search; serving takes these defaults."""

    beam_width: int = Field(5, ge=1)
    """Beam search width at evaluation and by default in the served translator (1: greedy only)."""
    length_penalty: float = Field(1.0, ge=0.0)
    """GNMT length penalty exponent: 0 ranks by raw log-probability (favours short outputs)."""
    max_extra_tokens: int = Field(5, ge=0)
    """Outputs stop here at the latest: this many tokens beyond the longest train target."""
    batch_size: int = Field(128, ge=1)
    """Sentences decoded at once."""


class TrainConfig(FrozenConfig):
    models: list[str] = Field(default_factory=lambda: ["lstm"], min_length=1)
    """The architectures trained side by side, each in its own task and MLflow child run."""
    epochs: int = Field(10, ge=1)
    """The most epochs each model trains (early stopping may end it sooner)."""
    batch_size: int = Field(256, ge=1)
    """Rows per training batch."""
    learning_rate: float = Field(1e-3, gt=0)
    """Adam's initial learning rate."""
    lr_schedule: Literal["constant", "plateau", "cosine"] = "constant"
    """How the learning rate moves from train.learning_rate: "constant"; "plateau" multiplies it by lr_decay_factor
    after lr_patience epochs without a better validation loss; "cosine" follows half a cosine, one step per epoch,
    that would reach zero at train.epochs: over 3 epochs the rate is 1, 0.75 and 0.25 times train.learning_rate
    (pipeline.training.fitting.learning_rate_schedule)."""
    lr_decay_factor: float = Field(0.5, gt=0, lt=1)
    """lr_schedule plateau: the factor the learning rate is multiplied by on a plateau."""
    lr_patience: int = Field(1, ge=0)
    """lr_schedule plateau: epochs without a better validation loss before the rate decays."""
    early_stopping_patience: int = Field(2, ge=0)
    """Epochs without improvement of the validation loss before training stops (the best weights are kept)."""
    average_checkpoints: int = Field(1, ge=1)
    """Checkpoint averaging: the trained model's weights are the mean of this many consecutive epochs' weights,
    ending at the epoch with the best validation loss (1: that epoch's alone)."""
    seed: int = 42
    """The seed of splits, initial weights and shuffling."""
    mixed_precision: bool = False
    """16-bit compute with float32 weights (outputs stay float32): float16 on a GPU, bfloat16 on a CPU with AMX /
    AVX512-BF16, float32 where neither is native (pipeline.training.devices.mixed_policy)."""
    ensemble_max_members: int = Field(4, ge=0)
    """Classification with two models or more: the subset of the run's models whose averaged probabilities score
    best on the validation split also competes, as one model (`ensemble`). At most this many members; 0 or 1: no
    ensemble."""


class SearchRange(FrozenConfig):
    """One field's search space: a range (``low``..``high``, on a log scale with ``log``, in ``step``s)
    or a list of ``choices``. An integer field draws integers, a float field floats."""

    low: float | None = None
    """The range's lower end (numbers)."""
    high: float | None = None
    """The range's upper end (numbers)."""
    log: bool = False
    """Sample on a log scale (learning rates, regularization)."""
    step: float | None = Field(None, gt=0)
    """Sample on this grid between low and high."""
    choices: list[Any] | None = Field(None, min_length=1)
    """The values to choose from, instead of a range."""

    @model_validator(mode="after")
    def _a_range_or_choices(self) -> SearchRange:
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.log or self.step is not None:
                raise ValueError("give choices, or low and high (with log or step), not both")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give low and high (a range) or choices (a list)")
        if self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ValueError("a log range needs low above 0 and no step")
        return self


# Fields a search may not vary: what is trained (train.models), how the data is split and seeded,
# and what happens after training.
UNTUNABLE_FIELDS = ("train.models", "train.seed", "train.ensemble_max_members", "model.embedding_vectors_path")


class TuneConfig(FrozenConfig):
    """Hyperparameter search before the final training (``pipeline.stages.tune``): an Optuna study of one
    architecture, its trials as mapped DAG tasks and nested MLflow runs, each pruned on validation
    loss; the best trial's values train the final model of that architecture. Off with trials 0."""

    trials: int = Field(0, ge=0)
    """Hyperparameter search trials before training (0: no search)."""
    model: str | None = None
    """The architecture searched: None, the first Keras model of train.models."""
    timeout_minutes: float | None = Field(None, gt=0)
    """No trial starts this many minutes after the search's first one (None: no time limit)."""
    parallel: int = Field(1, ge=1)
    """Trials at once (Airflow runs at most this many of the mapped trial tasks together). Read when the DAG file
    is parsed: set in the pipeline file, never by a run's overrides."""
    epochs: int | None = Field(None, ge=1)
    """Epochs of one trial (None: train.epochs); early stopping and the pruner may stop it sooner."""
    pruner: Literal["median", "none"] = "median"
    """"median": a trial whose validation loss after an epoch is worse than the median of earlier trials' at that
    epoch stops there (after startup_trials trials and warmup_epochs epochs)."""
    pruner_startup_trials: int = Field(2, ge=0)
    """Trials that run to the end before the median pruner stops any."""
    pruner_warmup_epochs: int = Field(1, ge=0)
    """Epochs a trial runs before it can be pruned."""
    space: dict[str, SearchRange] = Field(default_factory=dict)
    """Dotted config field -> its range or choices; empty: learning rate, units, dropout, batch size."""
    storage: str | None = None
    """An Optuna storage URL (e.g. postgresql://... when trials run on several hosts); None: a journal file in the
    DAG run's folder, shared by the trial tasks of one host or one shared data volume."""


DEFAULT_SEARCH_SPACE = {
    # Up to 1e-2, past NSMC's default of 3e-3 (nsmc.yaml): a few epochs on a cosine want a higher
    # starting rate than many at a constant one.
    "train.learning_rate": SearchRange(low=3e-4, high=1e-2, log=True),
    "model.units": SearchRange(low=32, high=256, log=True),
    "model.dropout_rate": SearchRange(low=0.0, high=0.5),
    "train.batch_size": SearchRange(choices=[64, 128, 256]),
}


class RegistryConfig(FrozenConfig):
    model_name: str = Field("nsmc-sentiment", min_length=1)
    """The registered model's name in the MLflow registry."""
    metric: Literal[tuple(metric for kind in names.KINDS for metric in names.KIND_METRICS[kind])] = "accuracy"
    """The metric that picks the best model of a run and gates promotion to @champion."""
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    """The promotion gate (pipeline.registry.significance): a candidate takes @champion only when it scores higher
    on the same test split, the paired test's one-sided p-value is below alpha, and the difference is at least
    min_improvement (in the metric's own units: 0.005 = half a point of accuracy, 0.5 BLEU)."""
    min_improvement: float = Field(0.0, ge=0.0)
    """The least gain in the ranking metric over the champion that counts as better."""


class Limit(FrozenConfig):
    """A data check's limits: past ``warn`` the run records a warning, past ``error`` it stops
    before training. None switches that level off."""

    warn: float | None = None
    """At or past this value the check warns."""
    error: float | None = None
    """At or past this value the check stops the run."""


class ValidationConfig(FrozenConfig):
    """Data checks (``pipeline.checks.report``) and their limits. Fractions are of rows; PSI is the
    population stability index against the champion's training data."""

    min_rows_per_class: Limit = Limit(warn=10, error=2)
    """Fewest train rows of any label (bad when below the limit)."""
    duplicate_fraction: Limit = Limit(warn=0.1)
    """Train rows dropped as repeats of another row's text."""
    test_overlap_fraction: Limit = Limit(warn=0.05, error=0.5)
    """Test texts that are also train texts (leakage: the test score overstates the model)."""
    unseen_test_label_fraction: Limit = Limit(error=0.0)
    """Test rows whose label the train split never shows."""
    length_outlier_fraction: Limit = Limit(warn=0.02)
    """Texts whose length is far from the rest (robust z-score of log length above 5)."""
    test_oov_rate: Limit = Limit(warn=0.25)
    """Test tokens outside the train vocabulary (classification; checked when features are built)."""
    champion_margin_over_majority: Limit = Limit(warn=0.0, error=-0.1)
    """Classification, checked when features are built: the current champion's accuracy on this run's test split
    minus the share of that split's most frequent label. Far below zero, the split is so unlike the champion's
    data, or its labels so changed, that a model promoted on it means nothing."""
    label_drift_psi: Limit = Limit(warn=0.1)
    """Drift of the train split from the current champion's: label mix and text length."""
    length_drift_psi: Limit = Limit(warn=0.1)
    """Population stability index of text lengths against the champion's training data."""
    empty_pair_fraction: Limit = Limit(warn=0.01, error=0.5)
    """Pairs only: pairs with an empty side, identical sides, and a source/target length ratio far from the rest."""
    identical_pair_fraction: Limit = Limit(warn=0.05)
    """Translation: share of pairs whose source equals its target."""
    length_ratio_outlier_fraction: Limit = Limit(warn=0.02)
    """Translation: share of pairs whose length ratio is an outlier."""

    @model_validator(mode="before")
    @classmethod
    def _partial_limits_keep_defaults(cls, data: Any) -> Any:
        """``label_drift_psi: {error: 0.2}`` sets the error level and keeps the default warn level."""
        if not isinstance(data, dict):
            return data
        merged = {}
        for key, value in data.items():
            field = cls.model_fields.get(key)
            if field is not None and isinstance(value, dict) and isinstance(field.default, Limit):
                value = {**field.default.model_dump(), **value}
            merged[key] = value
        return merged


class TrackingConfig(FrozenConfig):
    tracking_uri: str | None = None
    """None: MLFLOW_TRACKING_URI from the environment, else the project's local SQLite store."""
    experiment: str = "nsmc-sentiment"
    """The MLflow experiment of the training runs (null: the registered model's name)."""


def architectures_for_kind(kind: str) -> list[str]:
    """Every architecture whose family (``names.KIND_MODEL_FAMILIES``) can train on ``kind``."""
    from models.registry import architectures

    return [name for family in names.KIND_MODEL_FAMILIES[kind] for name in architectures(family)]


class AssetSchedule(FrozenConfig):
    """Run when Airflow assets are updated (e.g. a task or an API call marks a new corpus drop)."""

    assets: list[str] = Field(min_length=1)
    """Asset URIs, e.g. "file:///data/inbox/reviews.csv"; the DAG runs once all of them updated."""


class DagConfig(FrozenConfig):
    """How the pipeline appears in Airflow (one DAG per pipeline file)."""

    dag_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.\-]+$")
    """None: the pipeline's name."""
    schedule: str | AssetSchedule | None = "@weekly"
    """A cron expression or preset ("@weekly"), {assets: [uri, ...]}, or None: triggered by hand only."""
    tags: list[str] = Field(default_factory=list)
    """The Airflow DAG's tags."""
    description: str = ""
    """Markdown shown on the DAG's page."""


class BatchConfig(FrozenConfig):
    """Batch scoring: a second DAG, ``<dag_id>_batch``, scores every table file dropped in the inbox
    with the registered ``alias`` and writes one Parquet file of predictions per input and model
    version. It runs when a new champion is announced, when the inbox asset gets an event (a drop
    reported through Airflow's API), and on ``schedule``, which polls the inbox."""

    enabled: bool = True
    """Whether the pipeline gets its batch-scoring DAG."""
    inbox: str | None = None
    """None: <data_root>/batch/<pipeline>/inbox and .../predictions."""
    outbox: str | None = None
    """Where predictions go (null: <data_root>/batch/<pipeline>/predictions)."""
    text_column: str = "text"
    """The text column of the dropped tables (a one-column table needs none)."""
    alias: Literal[names.ALIASES] = names.CHAMPION
    """The registered alias whose version scores the inbox."""
    schedule: str | None = "@hourly"
    """How often the inbox is polled (cron or preset); None: only on asset events."""


class PipelineConfig(FrozenConfig):
    pipeline: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    """The pipeline's name: its YAML file's stem."""
    data_root: str = "data"
    """Where corpora, caches and run folders go (relative paths: under RNNFLOW_HOME or the project)."""
    dag: DagConfig = Field(default_factory=DagConfig)
    """The Airflow DAG: id, schedule, tags, description."""
    corpus: CorpusConfig
    """The corpus reader (corpus.name) and its own fields; see the reader sections below."""
    text: TextConfig = Field(default_factory=TextConfig)
    """Text processing of the (source) text: cleaning, tokenizer, vocabulary, lengths."""
    target_text: TextConfig | None = None
    """Two-sided kinds only (translation): the target side's text processing (`text` is then the source side)."""
    decode: DecodeConfig = Field(default_factory=DecodeConfig)
    """Translation: decoding at evaluation and serving."""
    model: ModelConfig = Field(default_factory=ModelConfig)
    """Hyperparameters the model builders read."""
    train: TrainConfig = Field(default_factory=TrainConfig)
    """Which architectures train, and how."""
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    """Registration and the promotion gate."""
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    """Data checks with their warn and error limits."""
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    """MLflow tracking."""
    batch: BatchConfig = Field(default_factory=BatchConfig)
    """Scheduled batch scoring of dropped files."""
    tune: TuneConfig = Field(default_factory=TuneConfig)
    """The optional hyperparameter search (Optuna)."""

    @property
    def kind(self) -> str:
        """The task kind, which the corpus reader decides (``pipeline.names.KINDS``)."""
        return type(self.corpus).kind

    @property
    def dag_id(self) -> str:
        return self.dag.dag_id or self.pipeline

    @model_validator(mode="after")
    def _fits_its_kind(self) -> PipelineConfig:
        from models.registry import architectures

        unknown = [name for name in self.train.models if name not in architectures()]
        if unknown:
            raise ValueError(f"train.models: unknown model(s) {unknown}; known: {architectures()}")
        fitting = architectures_for_kind(self.kind)
        wrong = [name for name in self.train.models if name not in fitting]
        if wrong:
            raise ValueError(f"train.models: {wrong} cannot train on a {self.kind} corpus "
                             f"({self.corpus.name}); these can: {fitting}")
        metrics = names.KIND_METRICS[self.kind]
        if self.registry.metric not in metrics:
            raise ValueError(f"registry.metric: {self.kind} models are ranked by one of {list(metrics)}, "
                             f"not {self.registry.metric}")
        two_sides = "target_text" in names.KIND_TEXT_SECTIONS[self.kind]
        if two_sides and self.text.subword_vocab_size is not None:
            raise ValueError("text.subword_vocab_size: a translation's source side is words; subword pieces "
                             "split its target side (target_text.subword_vocab_size)")
        if self.text.tokenizer == "chars" and self.text.subword_vocab_size is not None:
            raise ValueError("text.subword_vocab_size: characters are not split into subword pieces; set it to "
                             "null with text.tokenizer=chars")
        if two_sides and self.target_text is None:
            raise ValueError(f"target_text: a {self.kind} corpus needs the target side's text settings")
        if not two_sides and self.target_text is not None:
            raise ValueError(f"target_text: a {self.kind} corpus has one text side (`text`); remove target_text")
        if two_sides and self.target_text.tokenizer == "chars" and self.target_text.subword_vocab_size is not None:
            raise ValueError("target_text.subword_vocab_size: character-level targets are not split into "
                             "subword pieces; set it to null with target_text.tokenizer=chars")
        if self.tune.trials:
            self._check_search()
        return self

    def tuned_model(self) -> str | None:
        """The architecture the search tunes: ``tune.model``, else the first Keras one of train.models."""
        from models.registry import family_of

        if self.tune.model is not None:
            return self.tune.model
        return next((arch for arch in self.train.models if family_of(arch) != "baselines"), None)

    def search_space(self) -> dict[str, SearchRange]:
        return dict(self.tune.space) or dict(DEFAULT_SEARCH_SPACE)

    def with_values(self, values: dict[str, Any]) -> PipelineConfig:
        """This config with dotted fields set (a trial's or the best trial's values), validated."""
        from pipeline.config.loading import validate_config
        from pipeline.config.overrides import apply_overrides

        return validate_config(apply_overrides(self.to_dict(), values), origin=f"{self.pipeline} with {values}")

    def _check_search(self) -> None:
        from models.registry import family_of
        from pipeline.config.loading import validate_config
        from pipeline.config.overrides import apply_overrides

        arch = self.tuned_model()
        if arch is None:
            raise ValueError(f"tune.model: train.models {self.train.models} has no Keras model to tune "
                             "(the TF-IDF baselines choose their own settings on the validation split)")
        if arch not in self.train.models:
            raise ValueError(f"tune.model: {arch!r} is not one of train.models {self.train.models}")
        if family_of(arch) == "baselines":
            raise ValueError(f"tune.model: {arch!r} is a TF-IDF baseline, which chooses its own settings "
                             "(model.baseline_max_ngram_grid, logreg_c_grid, nb_alpha_grid)")
        plain = {**self.to_dict(), "tune": {}}
        for field, dimension in self.search_space().items():
            where = f"tune.space.{field}"
            if not field.startswith(("model.", "train.")) or field in UNTUNABLE_FIELDS:
                raise ValueError(f"{where}: a search varies model.* and train.* fields, except "
                                 f"{list(UNTUNABLE_FIELDS)}")
            section, _, name = field.partition(".")
            if name not in plain[section]:
                raise ValueError(f"{where}: {section} has no field {name!r} (it has {sorted(plain[section])})")
            current = plain[section][name]
            if dimension.choices is None and (isinstance(current, bool) or not isinstance(current, (int, float))):
                raise ValueError(f"{where}: {field} is not a number ({current!r}): give choices")
            if dimension.choices is None and isinstance(current, int) and not all(
                    float(value).is_integer() for value in (dimension.low, dimension.high, dimension.step or 1)):
                raise ValueError(f"{where}: {field} is an integer: low, high and step must be integers")
            for value in dimension.choices or [dimension.low, dimension.high]:
                value = int(value) if isinstance(current, int) and dimension.choices is None else value
                try:
                    validate_config(apply_overrides(plain, {field: value}))
                except ConfigError as exc:
                    raise ValueError(f"{where}: the value {value!r} is not valid: "
                                     f"{str(exc).partition(': ')[2]}") from None

    def data_dir(self) -> Path:
        from pipeline.paths import resolve

        return resolve(self.data_root)

    def batch_dirs(self) -> tuple[Path, Path]:
        """The batch-scoring inbox and the folder its predictions go to."""
        from pipeline.paths import resolve

        base = self.data_dir() / "batch" / self.pipeline
        inbox = resolve(self.batch.inbox) if self.batch.inbox else base / "inbox"
        outbox = resolve(self.batch.outbox) if self.batch.outbox else base / "predictions"
        return inbox, outbox

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=True, allow_unicode=True)

    def config_hash(self) -> str:
        return hash_resolved_config(self.to_dict())

    def flat_params(self) -> dict[str, str]:
        """Dotted key -> value string, for MLflow params."""
        return {key: json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
                for key, value in flatten(self.to_dict())}


def hash_resolved_config(data: dict[str, Any]) -> str:
    """The hash of a resolved config (its JSON form): the same for the written
    ``resolved_config.yaml`` read back, whatever fields later code versions add."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


# Mappings whose keys are data (file names, column roles, options), not config fields: one param each.
_MAPPING_FIELDS = {"text.tokenizer_options", "target_text.tokenizer_options", "corpus.urls", "corpus.sha256",
                   "corpus.md5", "corpus.split_values"}


def flatten(data: dict[str, Any], prefix: str = ""):
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value) \
                and dotted not in _MAPPING_FIELDS:
            yield from flatten(value, dotted + ".")
        else:
            yield dotted, value
