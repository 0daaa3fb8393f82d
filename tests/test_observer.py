"""The pipeline observer: updates started outside Dagster become materializations, once."""

from __future__ import annotations

from dagster import build_sensor_context, instance_for_test, materialize

from etl_assets.assets import build_table_assets
from etl_assets.config import load_config
from etl_assets.factory import build_definitions
from tests.conftest import REPO
from tests.test_databricks_engine import fake  # noqa: F401  (the fake workspace fixture)


def observe(instance, cursor=None):
    repo = build_definitions(REPO / "config.yml").get_repository_def()
    sensor = repo.get_sensor_def("pipeline_observer")
    return sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor, repository_def=repo))


def test_an_outside_update_is_reported_once_with_our_metadata(fake):  # noqa: F811
    outside = fake.start_outside_update(fake.orders, ["orders_bronze", "orders_silver"])
    fake.finish(outside)
    with instance_for_test() as instance:
        first = observe(instance)
        reported = {e.asset_key.path[-1]: e.metadata for e in first.asset_events}
        assert set(reported) == {"orders_bronze", "orders_silver"}
        meta = reported["orders_silver"]
        assert meta["update_id"].value == outside.update_id and meta["num_output_rows"].value == 10
        assert meta["observed"].value is True
        second = observe(instance, first.cursor)
        assert second.asset_events == [] and "no finished update" in second.skip_message


def test_updates_dagster_started_are_not_reported_again(fake):  # noqa: F811
    with instance_for_test() as instance:
        result = materialize(build_table_assets(load_config(REPO / "config.yml")), selection="orders_bronze",
                             instance=instance)
        assert result.success
        tick = observe(instance)
        assert tick.asset_events == []
    assert len(fake.updates) == 1


def test_unfinished_updates_wait_for_their_end(fake):  # noqa: F811
    outside = fake.start_outside_update(fake.orders, ["orders_gold"])
    with instance_for_test() as instance:
        first = observe(instance)
        assert first.asset_events == []
        fake.finish(outside)
        second = observe(instance, first.cursor)
        assert [e.asset_key.path[-1] for e in second.asset_events] == ["orders_gold"]


def test_the_local_engine_says_it_does_not_observe(local_home):
    with instance_for_test() as instance:
        tick = observe(instance)
    assert "not observed yet" in tick.skip_message
