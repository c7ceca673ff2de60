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
    # Which characters survive cleaning: "hangul" keeps Hangul syllables and jamo only (the
    # lecture recipe); "hangul_basic" also keeps digits, Latin letters and ! ? . ~ ^ which carry
    # sentiment in reviews ("ㅋㅋ", "!!", "10점").
    keep: Literal["hangul", "hangul_basic", "all"] = "hangul_basic"
    lowercase: bool = True
    # Runs of one character longer than this are shortened ("ㅋㅋㅋㅋㅋㅋ" -> "ㅋㅋㅋ").
    max_char_repeat: int | None = Field(3, ge=1)
    tokenizer: Literal[names.TOKENIZERS] = "mecab"
    # Tokenizer options, e.g. {"stem": true} for Okt; recorded with every model.
    tokenizer_options: dict[str, Any] = Field(default_factory=dict)
    stopwords: list[str] = Field(default_factory=list)
    min_freq: int = Field(2, ge=1)
    max_vocab: int | None = Field(None, ge=3)
    # Split the tokenizer's words into at most this many sentencepiece BPE pieces learned on the
    # train split (pipeline.text.subword): a classifier's input, or a translation's target side.
    # None: words.
    subword_vocab_size: int | None = Field(None, ge=16)
    # Sequence length: fixed when set, else this percentile of train token counts.
    max_len: int | None = Field(None, ge=1)
    max_len_percentile: float = Field(95.0, gt=0, le=100)
    # Which end of an over-long text is cut: "start" keeps the ending, where Korean puts the
    # predicate that carries most sentiment.
    truncate_from: Literal["start", "end"] = "start"
    workers: int | None = Field(None, ge=1)
    chunk_size: int = Field(2000, ge=1)

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
    # GNMT length penalty exponent: 0 ranks by raw log-probability (favours short outputs).
    length_penalty: float = Field(1.0, ge=0.0)
    # Outputs stop here at the latest: this many tokens beyond the longest train target.
    max_extra_tokens: int = Field(5, ge=0)
    batch_size: int = Field(128, ge=1)


class TrainConfig(FrozenConfig):
    models: list[str] = Field(default_factory=lambda: ["lstm"], min_length=1)
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(256, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    # How the learning rate moves from train.learning_rate: "constant"; "plateau" multiplies it by
    # lr_decay_factor after lr_patience epochs without a better validation loss; "cosine" follows
    # half a cosine, one step per epoch, that would reach zero at train.epochs: over 3 epochs the rate is
    # 1, 0.75 and 0.25 times train.learning_rate (pipeline.training.fitting.learning_rate_schedule).
    lr_schedule: Literal["constant", "plateau", "cosine"] = "constant"
    lr_decay_factor: float = Field(0.5, gt=0, lt=1)
    lr_patience: int = Field(1, ge=0)
    early_stopping_patience: int = Field(2, ge=0)
    # Checkpoint averaging: the trained model's weights are the mean of this many consecutive
    # epochs' weights, ending at the epoch with the best validation loss (1: that epoch's alone).
    average_checkpoints: int = Field(1, ge=1)
    seed: int = 42
    # 16-bit compute with float32 weights (outputs stay float32): float16 on a GPU, bfloat16 on a
    # CPU with AMX / AVX512-BF16, float32 where neither is native (pipeline.training.devices.mixed_policy).
    mixed_precision: bool = False
    # Classification with two models or more: the subset of the run's models whose averaged
    # probabilities score best on the validation split also competes, as one model (`ensemble`).
    # At most this many members; 0 or 1: no ensemble.
    ensemble_max_members: int = Field(4, ge=0)


class SearchRange(FrozenConfig):
    """One field's search space: a range (``low``..``high``, on a log scale with ``log``, in ``step``s)
    or a list of ``choices``. An integer field draws integers, a float field floats."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = Field(None, gt=0)
    choices: list[Any] | None = Field(None, min_length=1)

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
    # The architecture searched: None, the first Keras model of train.models.
    model: str | None = None
    # No trial starts this many minutes after the search's first one (None: no time limit).
    timeout_minutes: float | None = Field(None, gt=0)
    # Trials at once (Airflow runs at most this many of the mapped trial tasks together). Read when
    # the DAG file is parsed: set in the pipeline file, never by a run's overrides.
    parallel: int = Field(1, ge=1)
    # Epochs of one trial (None: train.epochs); early stopping and the pruner may stop it sooner.
    epochs: int | None = Field(None, ge=1)
    # "median": a trial whose validation loss after an epoch is worse than the median of earlier
    # trials' at that epoch stops there (after startup_trials trials and warmup_epochs epochs).
    pruner: Literal["median", "none"] = "median"
    pruner_startup_trials: int = Field(2, ge=0)
    pruner_warmup_epochs: int = Field(1, ge=0)
    # Dotted config field -> its range or choices; empty: learning rate, units, dropout, batch size.
    space: dict[str, SearchRange] = Field(default_factory=dict)
    # An Optuna storage URL (e.g. postgresql://... when trials run on several hosts); None: a journal
    # file in the DAG run's folder, shared by the trial tasks of one host or one shared data volume.
    storage: str | None = None


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
    # The metric that picks the best model of a run and gates promotion to @champion.
    metric: Literal[tuple(metric for kind in names.KINDS for metric in names.KIND_METRICS[kind])] = "accuracy"
    # The promotion gate (pipeline.registry.significance): a candidate takes @champion only when it scores
    # higher on the same test split, the paired test's one-sided p-value is below alpha, and the
    # difference is at least min_improvement (in the metric's own units: 0.005 = half a point of
    # accuracy, 0.5 BLEU).
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    min_improvement: float = Field(0.0, ge=0.0)


class Limit(FrozenConfig):
    """A data check's limits: past ``warn`` the run records a warning, past ``error`` it stops
    before training. None switches that level off."""

    warn: float | None = None
    error: float | None = None


class ValidationConfig(FrozenConfig):
    """Data checks (``pipeline.checks.report``) and their limits. Fractions are of rows; PSI is the
    population stability index against the champion's training data."""

    # Fewest train rows of any label (bad when below the limit).
    min_rows_per_class: Limit = Limit(warn=10, error=2)
    # Train rows dropped as repeats of another row's text.
    duplicate_fraction: Limit = Limit(warn=0.1)
    # Test texts that are also train texts (leakage: the test score overstates the model).
    test_overlap_fraction: Limit = Limit(warn=0.05, error=0.5)
    # Test rows whose label the train split never shows.
    unseen_test_label_fraction: Limit = Limit(error=0.0)
    # Texts whose length is far from the rest (robust z-score of log length above 5).
    length_outlier_fraction: Limit = Limit(warn=0.02)
    # Test tokens outside the train vocabulary (classification; checked when features are built).
    test_oov_rate: Limit = Limit(warn=0.25)
    # Classification, checked when features are built: the current champion's accuracy on this run's
    # test split minus the share of that split's most frequent label. Far below zero, the split is so
    # unlike the champion's data, or its labels so changed, that a model promoted on it means nothing.
    champion_margin_over_majority: Limit = Limit(warn=0.0, error=-0.1)
    # Drift of the train split from the current champion's: label mix and text length.
    label_drift_psi: Limit = Limit(warn=0.1)
    length_drift_psi: Limit = Limit(warn=0.1)
    # Pairs only: pairs with an empty side, identical sides, and a source/target length ratio far
    # from the rest.
    empty_pair_fraction: Limit = Limit(warn=0.01, error=0.5)
    identical_pair_fraction: Limit = Limit(warn=0.05)
    length_ratio_outlier_fraction: Limit = Limit(warn=0.02)

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
    # None: MLFLOW_TRACKING_URI from the environment, else the project's local SQLite store.
    tracking_uri: str | None = None
    experiment: str = "nsmc-sentiment"


def architectures_for_kind(kind: str) -> list[str]:
    """Every architecture whose family (``names.KIND_MODEL_FAMILIES``) can train on ``kind``."""
    from models.registry import architectures

    return [name for family in names.KIND_MODEL_FAMILIES[kind] for name in architectures(family)]


class AssetSchedule(FrozenConfig):
    """Run when Airflow assets are updated (e.g. a task or an API call marks a new corpus drop)."""

    # Asset URIs, e.g. "file:///data/inbox/reviews.csv"; the DAG runs once all of them updated.
    assets: list[str] = Field(min_length=1)


class DagConfig(FrozenConfig):
    """How the pipeline appears in Airflow (one DAG per pipeline file)."""

    # None: the pipeline's name.
    dag_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.\-]+$")
    # A cron expression or preset ("@weekly"), {assets: [uri, ...]}, or None: triggered by hand only.
    schedule: str | AssetSchedule | None = "@weekly"
    tags: list[str] = Field(default_factory=list)
    # Markdown shown on the DAG's page.
    description: str = ""


class BatchConfig(FrozenConfig):
    """Batch scoring: a second DAG, ``<dag_id>_batch``, scores every table file dropped in the inbox
    with the registered ``alias`` and writes one Parquet file of predictions per input and model
    version. It runs when a new champion is announced, when the inbox asset gets an event (a drop
    reported through Airflow's API), and on ``schedule``, which polls the inbox."""

    enabled: bool = True
    # None: <data_root>/batch/<pipeline>/inbox and .../predictions.
    inbox: str | None = None
    outbox: str | None = None
    # The text column of the dropped tables (a one-column table needs none).
    text_column: str = "text"
    alias: Literal[names.ALIASES] = names.CHAMPION
    # How often the inbox is polled (cron or preset); None: only on asset events.
    schedule: str | None = "@hourly"


class PipelineConfig(FrozenConfig):
    pipeline: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    data_root: str = "data"
    dag: DagConfig = Field(default_factory=DagConfig)
    corpus: CorpusConfig
    text: TextConfig = Field(default_factory=TextConfig)
    # Two-sided kinds only (translation): the target side's text processing (`text` is then the source side).
    target_text: TextConfig | None = None
    decode: DecodeConfig = Field(default_factory=DecodeConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)
    tune: TuneConfig = Field(default_factory=TuneConfig)

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
