"""Every name that more than one layer uses, defined once (standard library only).

The config's allowed values, the DAG params and the CLI are derived from these, so they cannot
drift apart. Names owned by one place stay there: architectures are the file names under
``models/<family>/`` (``models.registry``), corpus readers the file names under
``pipeline/corpora/readers/`` (``pipeline.corpora``), and pipelines the YAML files of the
pipelines folders (``pipeline.config``).
"""

from __future__ import annotations

# --- Task kinds: what a pipeline learns. The behaviour of each is one object in pipeline/kinds. ---
CLASSIFICATION = "classification"
TRANSLATION = "translation"
KINDS = (CLASSIFICATION, TRANSLATION)
# Which architecture families (folders under models/) can train on each kind.
KIND_MODEL_FAMILIES = {CLASSIFICATION: ("classifiers", "baselines"), TRANSLATION: ("translators",)}
# Metrics that may pick the best model and gate promotion, per kind.
KIND_METRICS = {CLASSIFICATION: ("accuracy", "f1", "macro_f1"), TRANSLATION: ("bleu", "chrf")}
# Metrics on a 0-100 scale (the others are fractions).
PERCENT_METRICS = ("bleu", "chrf")
# The config's text sections each kind reads: `text`, and for pairs `target_text` (the target side).
KIND_TEXT_SECTIONS = {CLASSIFICATION: ("text",), TRANSLATION: ("text", "target_text")}

# --- Data ---
SPLITS = ("train", "valid", "test")

# --- Tokenizers (pipeline.text.tokenizers implements each) and the options each one takes ---
KONLPY_TAGGERS = ("okt", "komoran", "kkma", "hannanum")
TOKENIZER_OPTIONS: dict[str, tuple[str, ...]] = {
    "mecab": ("with_pos",),
    "okt": ("stem", "norm"),
    "komoran": (),
    "kkma": (),
    "hannanum": (),
    "english": ("keep_punctuation",),
    "chars": (),
    "whitespace": (),
}
TOKENIZERS = tuple(TOKENIZER_OPTIONS)

# The combined model a classification run adds to its own (pipeline.kinds.classification.ensemble): its
# architecture and flavor name.
ENSEMBLE = "ensemble"

# --- Registry aliases (no stages: MLflow deprecated them) ---
CHAMPION = "champion"
CHALLENGER = "challenger"
ALIASES = (CHAMPION, CHALLENGER)

# --- MLflow tag keys: on runs and registered versions ---
TAG_PREFIX = "rnnflow."
RUN_KEY_TAG = "rnnflow.run_key"            # how a DAG run's MLflow runs and version are found again
RUN_ROLE_TAG = "rnnflow.role"              # "parent" (one per DAG run), "child" (one per architecture) or "trial"
# Runs logged before the role tag was renamed carry it under this key; read it where the new one is missing.
LEGACY_RUN_ROLE_TAG = "rnnflow.kind"
PARENT_ROLE = "parent"
CHILD_ROLE = "child"
TRIAL_ROLE = "trial"                       # a hyperparameter search trial (pipeline.stages.tune), nested like a child
TRIAL_TAG = "rnnflow.trial"                # on a trial run: the Optuna trial number; on a final run: its best trial
TRIAL_STATE_TAG = "rnnflow.trial_state"    # COMPLETE, PRUNED or FAIL, as Optuna says
ARCH_TAG = "rnnflow.arch"
TRAINING_RUN_TAG = "rnnflow.run_id"        # on a version: the child run that trained it
# Lineage: where a run came from (pipeline.tracking.lineage.Lineage writes these, field by field).
DAG_ID_TAG = "rnnflow.dag_id"
DAG_RUN_ID_TAG = "rnnflow.dag_run_id"
CONFIG_HASH_TAG = "rnnflow.config_hash"
DATA_DIGEST_TAG = "rnnflow.data_digest"
TEST_DIGEST_TAG = "rnnflow.test_digest"
GIT_COMMIT_TAG = "rnnflow.git_commit"
RESUMED_IN_TAG = "rnnflow.resumed_in"      # the Airflow DAG run that resumed an interrupted one
DECISION_TAG = "rnnflow.promotion"         # the alias a version was given
REASON_TAG = "rnnflow.promotion_reason"
PREVIOUS_CHAMPION_TAG = "rnnflow.previous_champion"  # the version a promotion replaced: what rollback restores
FAILED_TASK_TAG = "rnnflow.failed_task"
ERROR_TAG = "rnnflow.error"
BAD_INPUT_TAG = "rnnflow.bad_input"        # "true": the failure was the data or config (no retry helps)
REGISTERED_VERSION_TAG = "rnnflow.registered_version"
ALIAS_TAG = "rnnflow.alias"
BEST_ARCH_TAG = "rnnflow.best_arch"
DEVICES_TAG = "rnnflow.devices"
PRECISION_TAG = "rnnflow.precision"
VALIDATION_STATUS_TAG = "rnnflow.validation"              # ok / warn / error, on the parent run and the version
VALIDATION_WARNINGS_TAG = "rnnflow.validation_warnings"   # "check=value; ..." of every warning
# Batch scoring runs (pipeline.serving.batch).
BATCH_INPUT_TAG = "rnnflow.batch_input"
MODEL_NAME_TAG = "rnnflow.model_name"
MODEL_VERSION_TAG = "rnnflow.model_version"
TEST_METRIC_PREFIX = "test_"


def run_role(tags: dict[str, str]) -> str | None:
    """A run's role (parent, child or trial), from today's tag or the one runs logged earlier carry."""
    return tags.get(RUN_ROLE_TAG) or tags.get(LEGACY_RUN_ROLE_TAG)


def metric_tag(metric: str) -> str:
    """The version tag holding a test metric, e.g. ``rnnflow.test_accuracy``."""
    return f"{TAG_PREFIX}{TEST_METRIC_PREFIX}{metric}"


# --- DAG params: each maps onto one config field; anything else goes through `overrides`. ---
DAG_PARAM_FIELDS = {"source": "corpus.source", "corpus": "corpus.name", "tokenizer": "text.tokenizer",
                    "epochs": "train.epochs", "models": "train.models"}
OVERRIDES_PARAM = "overrides"
# An interrupted DAG run to continue (`rnnflow run --resume`): its frozen config, MLflow runs and checkpoints.
RESUME_PARAM = "resume"

# --- Environment variables ---
HOME_ENV = "RNNFLOW_HOME"                  # moves all local state (data, stores) elsewhere
PIPELINES_ENV = "RNNFLOW_PIPELINES"        # a folder of the user's own pipeline YAML files
TRAIN_QUEUE_ENV = "RNNFLOW_TRAIN_QUEUE"    # Celery queue of training tasks ("gpu" when distributed)
# What a trigger form (DAG params) may change: how to train, not where data goes, which tracking
# server or registered model is used, or which checksums and URLs are trusted; those belong to the
# pipeline file. The CLI, run by the machine's own user, sets TRUSTED_OVERRIDES_ENV in its own process.
TRIGGER_OVERRIDE_PREFIXES = ("text.", "target_text.", "model.", "train.", "decode.", "validation.", "corpus.",
                             "tune.", "registry.metric", "registry.alpha", "registry.min_improvement")
TRIGGER_REFUSED_FIELDS = ("corpus.urls", "corpus.sha256", "tune.storage")
TRIGGER_PATH_FIELDS = ("corpus.source", "corpus.test_source")
# Fields read when the DAG file is parsed (the DAG's id, schedule and tags; whether there is a batch
# DAG and its schedule; how many search trials Airflow runs at once): a run's overrides, from a
# trigger or `rnnflow run --set`, would change nothing, so they are refused. They are set in the
# pipeline file.
DAG_FILE_FIELDS = ("dag", "batch.enabled", "batch.schedule", "tune.parallel")
TRUSTED_OVERRIDES_ENV = "RNNFLOW_TRUSTED_OVERRIDES"
SOURCE_ROOTS_ENV = "RNNFLOW_SOURCE_ROOTS"  # folders a trigger's corpus.source may read, besides data_root
