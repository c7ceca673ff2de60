"""``rnnflow lineage``: where a registered version came from, link by link, each link checked.

    version -> training run -> parent run (the DAG run's) -> Airflow DAG run -> config hash and
    resolved config -> data and test digests (with the input files' sha256) -> tokenizer name
    and version -> git commit

and the other way, from a DAG run to the runs and the version it produced. A link that does not
resolve (a deleted run, a config whose hash no longer matches, a DAG run the Airflow DB does not
know) is printed as BROKEN with the reason, never skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import yaml
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipeline.errors import NotFound
from pipeline.names import (
    ARCH_TAG,
    CHAMPION,
    DECISION_TAG,
    ERROR_TAG,
    REASON_TAG,
    RUN_KEY_TAG,
    TRAINING_RUN_TAG,
    TRIAL_ROLE,
    TRIAL_TAG,
    run_role,
)
from pipeline.results import REPORT_FILE, TEXT_SPEC_FILE
from pipeline.text.spec import TextSpec
from pipeline.tracking.lineage import LINEAGE_TAGS

OK, BROKEN = "ok", "BROKEN"


@dataclass
class Link:
    name: str
    value: str
    status: str = OK
    detail: str = ""


@dataclass
class Trace:
    title: str
    links: list[Link] = field(default_factory=list)

    def add(self, name: str, value: str, status: str = OK, detail: str = "") -> None:
        self.links.append(Link(name, value, status, detail))

    @property
    def complete(self) -> bool:
        return all(link.status == OK for link in self.links)

    def render(self) -> str:
        width = max(len(link.name) for link in self.links) if self.links else 0
        lines = [self.title]
        for link in self.links:
            mark = "" if link.status == OK else f"  [{link.status}]"
            lines.append(f"  {link.name:<{width}}  {link.value}{mark}")
            if link.detail:
                lines.append(f"  {'':<{width}}    {link.detail}")
        return "\n".join(lines)


def _tag(version, field: str) -> str:
    """A lineage field's tag on the version (``Lineage`` writes them)."""
    return version.tags.get(LINEAGE_TAGS[field], "")


def resolve_version(client: MlflowClient, ref: str):
    """``NAME@alias``, ``NAME/VERSION``, ``NAME VERSION`` or ``NAME`` (its champion)."""
    name, _, rest = ref.replace(" ", "/").partition("@")
    if rest:
        return client.get_model_version_by_alias(name, rest)
    name, _, number = name.partition("/")
    if number:
        return client.get_model_version(name, number)
    return client.get_model_version_by_alias(name, CHAMPION)


def trace_version(client: MlflowClient, ref: str) -> Trace:
    try:
        version = resolve_version(client, ref)
    except MlflowException as exc:
        raise NotFound(f"{ref}: no such registered version ({exc.message.splitlines()[0]})") from None
    aliases = ", ".join(f"@{alias}" for alias in version.aliases) or "no alias"
    trace = Trace(f"{version.name} version {version.version} ({aliases})")
    trace.add("model", f"models:/{version.name}/{version.version} ({version.tags.get(ARCH_TAG, '?')})")
    if DECISION_TAG in version.tags:
        trace.add("promotion", f"@{version.tags[DECISION_TAG]}: {version.tags.get(REASON_TAG, '')[:200]}")
    training_id = version.tags.get(TRAINING_RUN_TAG) or version.run_id
    parent_id = _run_links(client, trace, training_id)
    _dag_run_link(trace, _tag(version, "dag_id"), _tag(version, "dag_run_id"))
    if _tag(version, "resumed_in"):  # interrupted, then finished by `rnnflow run --resume`
        _dag_run_link(trace, _tag(version, "dag_id"), _tag(version, "resumed_in"), "resumed in airflow dag run")
    _config_link(client, trace, parent_id, _tag(version, "config_hash"))
    _data_links(client, trace, parent_id, _tag(version, "data_digest"), _tag(version, "test_digest"))
    commit = _tag(version, "git_commit")
    trace.add("code", f"git commit {commit}" if commit else "no commit recorded",
              OK if commit and commit != "unknown" else BROKEN,
              "" if commit and not commit.endswith("-dirty") else
              ("the working tree had uncommitted changes" if commit else ""))
    return trace


def trace_dag_run(client: MlflowClient, dag_id: str, dag_run_id: str) -> Trace:
    """From a DAG run to its parent run, child runs and the version it registered."""
    run_key = f"{dag_id}/{dag_run_id}"
    trace = Trace(f"DAG run {run_key}")
    _dag_run_link(trace, dag_id, dag_run_id)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, filter_string=f"tags.`{RUN_KEY_TAG}` = '{run_key}'")
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    if not parents:
        trace.add("parent run", "none", BROKEN, "no MLflow run carries this DAG run's key")
        return trace
    parent = parents[0]
    trace.add("parent run", f"{parent.info.run_id} ({parent.info.status})")
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    for child in children:
        tags = child.data.tags
        if run_role(tags) == TRIAL_ROLE:
            trace.add("search trial", f"{child.info.run_id} {tags.get(ARCH_TAG, '?')} trial {tags.get(TRIAL_TAG, '?')} "
                                      f"({child.info.status})")
        else:
            trace.add("training run", f"{child.info.run_id} {tags.get(ARCH_TAG, '?')} ({child.info.status})")
    versions = []
    for model in client.search_registered_models():
        versions += client.search_model_versions(f"name = '{model.name}' and tags.`{RUN_KEY_TAG}` = '{run_key}'")
    if versions:
        for version in versions:
            trace.add("version", f"{version.name} version {version.version} "
                                 f"(@{version.tags.get(DECISION_TAG, '?')})")
    else:
        trace.add("version", "none registered", OK if parent.info.status == "FINISHED" else BROKEN,
                  parent.data.tags.get(ERROR_TAG, "")[:200])
    return trace


def _run_links(client: MlflowClient, trace: Trace, training_id: str) -> str | None:
    try:
        training = client.get_run(training_id)
    except MlflowException:
        trace.add("training run", training_id, BROKEN, "not in the tracking store")
        return None
    experiment = client.get_experiment(training.info.experiment_id).name
    trace.add("training run", f"{training_id} in experiment {experiment!r} ({training.info.status})")
    parent_id = training.data.tags.get("mlflow.parentRunId")
    if not parent_id:
        trace.add("parent run", "none", BROKEN, "the training run has no parent (DAG run) run")
        return None
    try:
        parent = client.get_run(parent_id)
    except MlflowException:
        trace.add("parent run", parent_id, BROKEN, "not in the tracking store")
        return None
    trace.add("parent run", f"{parent_id} ({parent.info.status}, key {parent.data.tags.get(RUN_KEY_TAG, '?')})")
    if TRIAL_TAG in training.data.tags:  # trained with a search's best values, not the config's own
        tuned = {key.removeprefix("tune.best."): value for key, value in parent.data.params.items()
                 if key.startswith("tune.best.")}
        trace.add("tuned by", f"search trial {training.data.tags[TRIAL_TAG]} of the parent run: "
                              + ", ".join(f"{key}={value}" for key, value in tuned.items()),
                  OK if tuned else BROKEN, "" if tuned else "the parent run records no best values")
    return parent_id


def _dag_run_link(trace: Trace, dag_id: str, dag_run_id: str, name: str = "airflow dag run") -> None:
    if not dag_id or not dag_run_id:
        trace.add(name, "not recorded", BROKEN)
        return
    try:
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as session:
            found = session.query(DagRun).filter(DagRun.dag_id == dag_id, DagRun.run_id == dag_run_id).first()
            state = str(getattr(found.state, "value", found.state)) if found else None
            when = f", started {found.start_date:%Y-%m-%d %H:%M:%S}" if found and found.start_date else ""
    except Exception as exc:  # the metadata DB may be another deployment's or unreachable
        trace.add(name, f"{dag_id} / {dag_run_id}", BROKEN, f"Airflow DB not readable: {exc}")
        return
    if state is None:
        trace.add(name, f"{dag_id} / {dag_run_id}", BROKEN, "not in this Airflow metadata DB")
    else:
        trace.add(name, f"{dag_id} / {dag_run_id} ({state}{when})")


def _config_link(client: MlflowClient, trace: Trace, parent_id: str | None, config_hash: str) -> None:
    from pipeline.config import hash_resolved_config

    if parent_id is None:
        trace.add("config", f"hash {config_hash or '?'}", BROKEN, "no parent run to read the resolved config from")
        return
    try:
        text = _load_text(client, parent_id, "config/resolved_config.yaml")
        recomputed = hash_resolved_config(yaml.safe_load(text))
    except Exception as exc:  # a missing artifact, or a config this code no longer validates
        trace.add("config", f"hash {config_hash}", BROKEN, f"resolved config not readable: {exc}")
        return
    if recomputed != config_hash:
        trace.add("config", f"hash {config_hash}", BROKEN,
                  f"runs:/{parent_id}/config/resolved_config.yaml hashes to {recomputed}: it is not this config")
    else:
        trace.add("config", f"hash {config_hash} = runs:/{parent_id}/config/resolved_config.yaml")


def _data_links(client: MlflowClient, trace: Trace, parent_id: str | None, data_digest: str,
                test_digest: str) -> None:
    if parent_id is None:
        trace.add("data", f"digest {data_digest}", BROKEN, "no parent run")
        return
    try:
        report = json.loads(_load_text(client, parent_id, f"data/{REPORT_FILE}"))
    except Exception as exc:
        trace.add("data", f"digest {data_digest}", BROKEN, f"ingest report not readable: {exc}")
        return
    files = report.get("file_sha256", {})
    status = OK if report.get("data_digest") == data_digest else BROKEN
    shown = ", ".join(f"{name} sha256 {digest[:12]}" for name, digest in list(files.items())[:3])
    more = f" and {len(files) - 3} more" if len(files) > 3 else ""
    trace.add("data", f"digest {data_digest}: {shown}{more}", status,
              "" if status == OK else f"the ingest report says {report.get('data_digest')}")
    trace.add("test split", f"digest {test_digest}, {report.get('rows', {}).get('test', '?')} rows",
              OK if report.get("test_digest") == test_digest else BROKEN)
    try:
        spec = TextSpec.loads(_load_text(client, parent_id, f"features/{TEXT_SPEC_FILE}"))
    except Exception as exc:
        trace.add("tokenizer", "?", BROKEN, f"text spec not readable: {exc}")
        return
    for side, text_side in spec.sides().items():
        tokenizer = text_side.tokenizer
        link = "tokenizer" if spec.target is None else f"{side} tokenizer"
        trace.add(link, f"{tokenizer['name']} {tokenizer['version']} {tokenizer.get('options') or ''}".strip())


def _load_text(client: MlflowClient, run_id: str, path: str) -> str:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, path, tmp)
        return Path(local).read_text(encoding="utf-8")
