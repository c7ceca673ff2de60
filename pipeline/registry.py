"""Register stage: the best model of a run becomes a raw-text pyfunc version; aliases gate it.

Aliases only (``champion``, ``challenger``), never stages. A version is promoted to
``@champion`` when there is none or it beats the champion's test metric; otherwise it becomes
``@challenger``. The decision is recorded on the version and in the parent run.
"""

from __future__ import annotations

import importlib.metadata
import logging
import tempfile
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipeline.config import PipelineConfig
from pipeline.evaluate import EvalResult
from pipeline.io import read_json
from pipeline.lineage import Lineage
from pipeline.paths import PROJECT_ROOT
from pipeline.preprocess import TEXT_SPEC_FILE, VOCAB_FILE, PreprocessResult
from pipeline.tracking import RUN_KEY_TAG, configure

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
DECISION_TAG = "rnnflow.promotion"
REASON_TAG = "rnnflow.promotion_reason"
PYFUNC_NAME = "raw_text_model"
# Pinned into the logged model so `mlflow models serve` builds the same stack.
SERVING_PACKAGES = ("tensorflow-cpu", "keras", "mlflow", "pandas", "numpy", "scikit-learn", "pydantic",
                    "pyyaml", "konlpy", "jpype1", "python-mecab-ko", "python-mecab-ko-dic")


@dataclass(frozen=True)
class RegisterResult:
    model_name: str
    version: str
    alias: str
    reason: str
    arch: str
    run_id: str
    metrics: dict[str, float]

    def to_xcom(self) -> dict:
        return asdict(self)


def metric_tag(metric: str) -> str:
    return f"rnnflow.test_{metric}"


def select_best(evaluations: list[EvalResult], metric: str) -> EvalResult:
    if not evaluations:
        raise ValueError("no evaluated models to choose from")
    return max(evaluations, key=lambda result: result.metrics[metric])


def decide_promotion(candidate_score: float, champion_score: float | None, min_improvement: float,
                     metric: str) -> tuple[str, str]:
    """(alias, reason): pure, so the gate is tested without a registry."""
    if champion_score is None:
        return CHAMPION, f"no champion with a recorded test {metric}"
    if candidate_score > champion_score + min_improvement:
        return CHAMPION, f"test {metric} {candidate_score:.4f} beats champion's {champion_score:.4f}"
    return CHALLENGER, f"test {metric} {candidate_score:.4f} does not beat champion's {champion_score:.4f}"


def run_register(config: PipelineConfig, prepared: PreprocessResult, evaluations: list[EvalResult],
                 lineage: Lineage) -> RegisterResult:
    client = configure(config)
    name, metric = config.registry.model_name, config.registry.metric
    best = select_best(evaluations, metric)
    run_key = lineage.run_key
    existing = client.search_model_versions(f"name = '{name}' and tags.`{RUN_KEY_TAG}` = '{run_key}'")
    if existing:
        version = existing[0]
        log.info("DAG run %s already registered %s version %s", run_key, name, version.version)
    else:
        version = _register(client, config, prepared, best, lineage, run_key)
    if DECISION_TAG in version.tags:
        alias, reason = version.tags[DECISION_TAG], version.tags[REASON_TAG]
    else:
        alias, reason = promote(client, name, version.version, best.metrics[metric], metric,
                                config.registry.min_improvement, lineage.test_digest,
                                rescore=partial(rescore_on_test_split, config=config, prepared=prepared,
                                                metric=metric))
    return RegisterResult(name, str(version.version), alias, reason, best.arch, best.run_id, best.metrics)


def _register(client: MlflowClient, config: PipelineConfig, prepared, best: EvalResult,
              lineage: Lineage, run_key: str):
    import pandas as pd

    from pipeline.serving import TEXT_COLUMN

    with tempfile.TemporaryDirectory() as tmp:
        model_path = mlflow.artifacts.download_artifacts(best.model_uri, dst_path=tmp)
        python_model, artifacts, signature, texts = _serving_parts(config, prepared, best, model_path)
        with mlflow.start_run(run_id=best.run_id):
            info = mlflow.pyfunc.log_model(
                name=PYFUNC_NAME,
                python_model=python_model,
                artifacts=artifacts,
                code_paths=[str(PROJECT_ROOT / "pipeline"), str(PROJECT_ROOT / "models")],
                signature=signature,
                input_example=pd.DataFrame({TEXT_COLUMN: texts[:2]}),
                pip_requirements=_pinned_requirements(),
            )
    tags = {**lineage.tags(), RUN_KEY_TAG: run_key, "rnnflow.arch": best.arch, "rnnflow.run_id": best.run_id,
            **{metric_tag(key): f"{value:.6f}" for key, value in best.metrics.items()}}
    version = mlflow.register_model(info.model_uri, config.registry.model_name, tags=tags)
    return client.get_model_version(config.registry.model_name, version.version)


def _serving_parts(config: PipelineConfig, prepared, best: EvalResult, model_path: str):
    """(python model, artifacts, signature, example texts) of the task's raw-text pyfunc."""
    features_dir = Path(prepared.features_dir)
    if config.task == "translation":
        from pipeline import translation
        from pipeline.serving import RawTextTranslator, translator_signature

        artifacts = {"keras_model": model_path, "text_spec": str(features_dir / translation.TEXT_SPEC_FILE),
                     "source_vocab": str(features_dir / translation.SOURCE_VOCAB_FILE),
                     "target_vocab": str(features_dir / translation.TARGET_VOCAB_FILE)}
        signature = translator_signature(config.decode.beam_width, config.decode.length_penalty)
        return (RawTextTranslator(), artifacts, signature,
                translation.load_split(features_dir, "test").sources)
    from pipeline.preprocess import split_texts
    from pipeline.serving import RawTextClassifier, serving_signature

    artifacts = {f"{best.flavor}_model": model_path, "text_spec": str(features_dir / TEXT_SPEC_FILE),
                 "vocab": str(features_dir / VOCAB_FILE)}
    return RawTextClassifier(), artifacts, serving_signature(), split_texts(features_dir, "test")


def _pinned_requirements() -> list[str]:
    pins = []
    for package in SERVING_PACKAGES:
        try:
            pins.append(f"{package}=={importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


def rescore_on_test_split(model_uri: str, config: PipelineConfig, prepared, metric: str) -> float:
    if config.task == "translation":
        return translation_score_on_test_split(model_uri, prepared, metric)
    return score_on_test_split(model_uri, prepared, metric)


def translation_score_on_test_split(model_uri: str, prepared, metric: str) -> float:
    """BLEU or chrF of a registered translator on this run's test split, with its own default decoding."""
    from pipeline.translation import corpus_scores, load_split

    test = load_split(prepared.features_dir, "test")
    rows, reference_sets = test.by_source()
    sources = [test.sources[row] for row in rows]
    translations = mlflow.pyfunc.load_model(model_uri).predict(sources)["translation"].tolist()
    return corpus_scores(translations, reference_sets)[metric]


def score_on_test_split(model_uri: str, prepared: PreprocessResult, metric: str) -> float:
    """Score a registered raw-text model on this run's test split, through its own pyfunc.

    Predictions are matched by label *name*: a champion trained on another label set (R8 against
    R52, say) has other label ids, and a topic it never learned counts as wrong.
    """
    import numpy as np

    from pipeline.metrics import classification_metrics
    from pipeline.preprocess import FEATURES_FILE, split_texts

    with np.load(Path(prepared.features_dir) / FEATURES_FILE) as arrays:
        y_test = arrays["y_test"]
    label_names = read_json(Path(prepared.features_dir) / TEXT_SPEC_FILE)["label_names"]
    predictions = mlflow.pyfunc.load_model(model_uri).predict(split_texts(prepared.features_dir, "test"))
    index = {name: i for i, name in enumerate(label_names)}
    # A label this run does not know becomes -1: wrong for every row, and outside every class.
    y_pred = np.array([index.get(label, -1) for label in predictions["label"]], dtype=np.int64)
    return classification_metrics(y_test, y_pred, prepared.num_classes)[metric]


def champion_score(client: MlflowClient, name: str, metric: str, test_digest: str,
                   rescore: Callable[[str], float]) -> tuple[str | None, float | None, str]:
    """(champion version, its score on this run's test split, how that score was obtained).

    Scores are only comparable on the same test split: the champion's recorded metric is used
    when its test digest matches; otherwise the champion is re-scored on this run's test split.
    """
    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None, None, "no champion"
    version = str(champion.version)
    recorded = champion.tags.get(metric_tag(metric))
    if recorded is not None and test_digest and champion.tags.get("rnnflow.test_digest") == test_digest:
        return version, float(recorded), "recorded on the same test split"
    try:
        return version, rescore(f"models:/{name}/{version}"), "re-scored on this run's test split"
    except Exception as exc:  # a champion that cannot be loaded or scored must not block every future run
        log.error("champion %s version %s could not be scored: %s", name, version, exc)
        return version, None, f"champion could not be scored ({type(exc).__name__}: {exc})"


def promote(client: MlflowClient, name: str, version: str, score: float, metric: str,
            min_improvement: float, test_digest: str, rescore: Callable[[str], float]) -> tuple[str, str]:
    champion_version, champion_metric, how = champion_score(client, name, metric, test_digest, rescore)
    if champion_version == str(version):
        alias, reason = CHAMPION, "already champion"
    else:
        alias, reason = decide_promotion(score, champion_metric, min_improvement, metric)
        if champion_version is not None:
            reason += f" (champion version {champion_version}: {how})"
    client.set_registered_model_alias(name, alias, str(version))
    client.set_model_version_tag(name, str(version), DECISION_TAG, alias)
    client.set_model_version_tag(name, str(version), REASON_TAG, reason)
    log.info("%s version %s -> @%s: %s", name, version, alias, reason)
    return alias, reason
