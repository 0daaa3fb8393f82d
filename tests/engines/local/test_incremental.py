"""Local updates on real Spark, through Dagster: a table with nothing to do is not recomputed, and
its materialization says so; what changed, what is not deterministic, a full refresh and an update
after a failed one are recomputed."""

from __future__ import annotations

import shutil

import pytest
from dagster import instance_for_test, materialize

from etl_assets.dagster.assets import build_table_assets
from etl_assets.engines.local.server import recorded_server, stop_warm_spark
from etl_assets.project.load import load_config
from tests.conftest import SCENARIOS, local_resource

# The stream scenario (a streaming table over landing files and a view of it), plus a view that
# is not deterministic.
STREAM = SCENARIOS / "stream"
STAMPED = '''
from pyspark import pipelines as dp
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

spark = SparkSession.active()


@dp.materialized_view(name="events_stamped")
def events_stamped():
    return spark.read.table("events_bronze").select("id", F.current_timestamp().alias("seen_at"))
'''


def refreshes(result) -> dict[str, tuple[str, str, int]]:
    found = {}
    for event in result.get_asset_materialization_events():
        metadata = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
        found[event.materialization.asset_key.path[-1]] = (
            metadata["refresh"], metadata["refresh_reason"], metadata["dagster/row_count"])
    return found


@pytest.mark.slow
def test_an_update_recomputes_only_what_changed(tmp_path, local_home, monkeypatch):
    root = tmp_path / "project"
    shutil.copytree(STREAM, root, ignore=shutil.ignore_patterns(".etl_assets", "__pycache__"))
    with (root / "config.yml").open("a") as config:
        config.write("  - {name: events_stamped, layer: gold, depends_on: [events_bronze]}\n")
    (root / "transformations" / "gold" / "events_stamped.py").write_text(STAMPED)
    assets = build_table_assets(load_config(root / "config.yml"))
    resources = {"engine": local_resource()}
    landing = local_home.landing / "events"
    landing.mkdir(parents=True)
    (landing / "a.json").write_text('{"id": 1}\n{"id": 2}\n')
    not_deterministic = ("recomputed", "its query is not deterministic (current_timestamp)", 2)

    def run(**kwargs):
        result = materialize(assets, instance=instance, resources=resources, **kwargs)
        assert result.success
        return refreshes(result)

    with instance_for_test() as instance:
        first = run()
        assert first["events_bronze"] == ("recomputed", "no earlier completed refresh is recorded", 2)
        assert first["events_count"] == ("recomputed", "upstream events_bronze is refreshed in this update", 1)

        # Nothing new: no Spark is started, and each table keeps its rows.
        stop_warm_spark(local_home)
        second = run(selection=["events_bronze", "events_count"])
        assert recorded_server(local_home) is None
        assert second["events_bronze"][0] == second["events_count"][0] == "no-op: nothing to do"
        assert second["events_bronze"][1].startswith("no input changed since its refresh of ")
        assert (second["events_bronze"][2], second["events_count"][2]) == (2, 1)
        # A query that is not deterministic is recomputed whatever changed.
        again = run()
        assert again["events_stamped"] == not_deterministic
        assert again["events_count"][0] == "no-op: nothing to do"

        # A new file: its reader and what reads it are recomputed.
        (landing / "b.json").write_text('{"id": 3}\n')
        third = run()
        assert third["events_bronze"] == (
            "recomputed", f"files under {landing} changed (new, changed or deleted)", 3)
        assert third["events_count"][:2] == ("recomputed", "upstream events_bronze is refreshed in this update")

        # A failed update keeps the tables as they were and leaves no record, so the next one
        # recomputes them even with its inputs back as before.
        (landing / "c.json").write_text('{"id": 4}\n')
        monkeypatch.setenv("ETL_ASSETS_TEST_BREAK_BRONZE", "1")
        assert not materialize(assets, instance=instance, resources=resources, raise_on_error=False).success
        monkeypatch.delenv("ETL_ASSETS_TEST_BREAK_BRONZE")
        (landing / "c.json").unlink()
        after_failure = run()
        assert after_failure["events_bronze"] == ("recomputed", "no earlier completed refresh is recorded", 3)

        # A full refresh recomputes everything, changed or not.
        full = run(run_config={"ops": {"events": {"config": {"full_refresh": True}}}})
        assert {t: r[:2] for t, r in full.items()} == dict.fromkeys(
            ("events_bronze", "events_count", "events_stamped"), ("recomputed", "full refresh"))
        assert full["events_count"][2] == 1


CDC_PROJECT = {
    "config.yml": """
pipelines:
  cdc: {name: cdc}
tables:
  - {name: changes, layer: bronze, source: {type: files, format: json, path: changes}}
  - {name: people, layer: silver, depends_on: [changes]}
  - {name: people_count, layer: gold, depends_on: [people]}
""",
    "transformations/bronze/changes.py": """
from pyspark import pipelines as dp
from pyspark.sql import SparkSession

spark = SparkSession.active()


@dp.table(name="changes")
def changes():
    return (spark.readStream.format("json").schema("id BIGINT, name STRING, op STRING, seq BIGINT")
            .load(spark.conf.get("etl_assets.landing_path") + "/changes"))
""",
    "transformations/silver/people.py": """
from pyspark import pipelines as dp
from pyspark.sql import functions as F

dp.create_streaming_table(name="people")
dp.create_auto_cdc_flow(target="people", source="changes", keys=["id"], sequence_by=F.col("seq"),
                        apply_as_deletes=F.expr("op = 'DELETE'"), except_column_list=["op", "seq"])
""",
    "transformations/gold/people_count.py": """
from pyspark import pipelines as dp
from pyspark.sql import SparkSession

spark = SparkSession.active()


@dp.materialized_view(name="people_count")
def people_count():
    return spark.read.table("people").groupBy().count()
""",
}


@pytest.mark.slow
def test_an_auto_cdc_target_applied_incrementally_has_nothing_to_do_when_nothing_is_new(tmp_path, local_home):
    root = tmp_path / "cdc_project"
    for name, text in CDC_PROJECT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text.lstrip())
    assets = build_table_assets(load_config(root / "config.yml"))
    landing = local_home.landing / "changes"
    landing.mkdir(parents=True)
    (landing / "1.json").write_text('{"id": 1, "name": "a", "op": "UPSERT", "seq": 1}\n'
                                    '{"id": 2, "name": "b", "op": "UPSERT", "seq": 1}\n')
    with instance_for_test() as instance:
        def run():
            result = materialize(assets, instance=instance, resources={"engine": local_resource()})
            assert result.success
            return refreshes(result)

        assert run()["people"][::2] == ("recomputed", 2)
        # New changes: the target applies them to its kept rows (its query then tells the feed's
        # files apart by name)...
        (landing / "2.json").write_text('{"id": 2, "op": "DELETE", "seq": 2}\n'
                                        '{"id": 3, "name": "c", "op": "UPSERT", "seq": 2}\n')
        second = run()
        assert second["people"][::2] == ("recomputed", 2) and second["people_count"][0] == "recomputed"
        # ... and with nothing new, nothing has anything to do.
        third = run()
        assert {t: r[0] for t, r in third.items()} == dict.fromkeys(
            ("changes", "people", "people_count"), "no-op: nothing to do")
        assert third["people"][2] == 2
