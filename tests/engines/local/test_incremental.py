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
