"""Lineage tags come from names.py, and runs logged before the role tag's rename still read."""

import dataclasses

from pipeline import names
from pipeline.tracking.lineage import LINEAGE_TAGS, Lineage


def test_every_lineage_field_has_its_tag_in_names():
    lineage = Lineage("dag", "run", "hash", "data", "test", "commit", "resumer")
    assert set(LINEAGE_TAGS) == {field.name for field in dataclasses.fields(Lineage)}
    assert lineage.tags() == {names.DAG_ID_TAG: "dag", names.DAG_RUN_ID_TAG: "run", names.CONFIG_HASH_TAG: "hash",
                              names.DATA_DIGEST_TAG: "data", names.TEST_DIGEST_TAG: "test",
                              names.GIT_COMMIT_TAG: "commit", names.RESUMED_IN_TAG: "resumer"}
    assert names.RESUMED_IN_TAG not in Lineage("dag", "run", "hash").tags()  # empty fields are left out


def test_a_run_role_reads_from_todays_tag_or_the_legacy_one():
    assert names.run_role({names.RUN_ROLE_TAG: names.CHILD_ROLE}) == "child"
    assert names.run_role({names.LEGACY_RUN_ROLE_TAG: names.PARENT_ROLE}) == "parent"
    assert names.run_role({}) is None
