"""The pipeline observer: updates started outside Dagster become materializations, once."""

from __future__ import annotations

import json
import uuid

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetKey,
    AssetMaterialization,
    DagsterRun,
    DagsterRunStatus,
    instance_for_test,
    materialize,
)

from etl_assets.dagster.assets import build_table_assets
from etl_assets.dagster.definitions import build_definitions
from etl_assets.dagster.resources import DatabricksPipelinesResource
from etl_assets.project.load import load_config
from tests.conftest import current_home, local_resource, scenario, tick_sensor
from tests.support.fake_databricks import FAST, continuous, successful

SHOP = scenario("shop")


def observe(instance, cursor=None, config=SHOP, engine=None):
    repo = build_definitions(config, engine=engine or DatabricksPipelinesResource(**FAST)).get_repository_def()
    return tick_sensor(repo, "pipeline_observer", instance, cursor)


def test_an_outside_update_is_reported_once_with_our_metadata(fake):
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
        assert second.asset_events == [] and "no update started outside Dagster" in second.skip_message


def test_updates_dagster_started_are_not_reported_again(fake):
    with instance_for_test() as instance:
        result = materialize(build_table_assets(load_config(SHOP)), selection="orders_bronze",
                             instance=instance, resources={"engine": DatabricksPipelinesResource(**FAST)})
        assert result.success
        tick = observe(instance)
        assert tick.asset_events == []
    assert len(fake.updates) == 1


def test_unfinished_updates_wait_for_their_end(fake):
    outside = fake.start_outside_update(fake.orders, ["orders_gold"])
    with instance_for_test() as instance:
        first = observe(instance)
        assert first.asset_events == []
        fake.finish(outside)
        second = observe(instance, first.cursor)
        assert [e.asset_key.path[-1] for e in second.asset_events] == ["orders_gold"]


def test_an_outside_update_reports_its_expectations_as_checks(fake):
    outside = fake.start_outside_update(fake.orders, ["orders_silver"], successful(expectation="valid_order_id"))
    fake.finish(outside)
    with instance_for_test() as instance:
        tick = observe(instance)
    checks = {e.check_name: e for e in tick.asset_events if isinstance(e, AssetCheckEvaluation)}
    # The update counted one failed record for valid_order_id and said nothing of positive_amount,
    # which is left out rather than made up.
    assert set(checks) == {"valid_order_id"}
    assert checks["valid_order_id"].passed is False
    assert checks["valid_order_id"].metadata["failed_records"].value == 1
    assert checks["valid_order_id"].metadata["update_id"].value == outside.update_id


def test_a_cursor_from_before_keeps_its_reported_updates(fake):
    outside = fake.start_outside_update(fake.orders, ["orders_gold"])
    fake.finish(outside)
    with instance_for_test() as instance:
        tick = observe(instance, json.dumps({"orders": [outside.update_id]}))
    assert tick.asset_events == []


CONTINUOUS = """
    pipelines:
      orders: {name: etl_assets_orders, continuous: true}
    tables:
      - {name: orders_bronze, layer: bronze, pipeline: orders}
      - name: orders_silver
        layer: silver
        pipeline: orders
        depends_on: [orders_bronze]
        expectations: [{name: valid_order_id, condition: order_id IS NOT NULL, action: drop}]
"""


def reported(tick) -> dict[str, dict]:
    return {e.asset_key.path[-1]: {k: v.value for k, v in e.metadata.items()}
            for e in tick.asset_events if isinstance(e, AssetMaterialization)}


def test_a_running_continuous_update_is_reported_as_it_goes(fake, project):
    config = project(CONTINUOUS)
    update = fake.start_outside_update(fake.orders, [], continuous(["orders_bronze", "orders_silver"], [5, 7]))
    fake.advance(update)  # INITIALIZING -> first batch
    with instance_for_test() as instance:
        first = observe(instance, config=config)
        rows = reported(first)
        assert set(rows) == {"orders_bronze", "orders_silver"}
        assert rows["orders_silver"]["num_output_rows"] == 5
        assert rows["orders_silver"]["continuous"] is True and rows["orders_silver"]["observed"] is True
        checks = [e for e in first.asset_events if isinstance(e, AssetCheckEvaluation)]
        assert [(c.check_name, c.passed, c.metadata["passed_records"].value) for c in checks] == [
            ("valid_order_id", True, 5)]

        nothing_new = observe(instance, first.cursor, config=config)
        assert nothing_new.asset_events == []

        fake.advance(update)  # second batch: only its rows are reported
        second = observe(instance, nothing_new.cursor, config=config)
        assert {t: m["num_output_rows"] for t, m in reported(second).items()} == {"orders_bronze": 7,
                                                                                 "orders_silver": 7}
        fake.advance(update)  # stopped: nothing new was written, and the update is done with
        third = observe(instance, second.cursor, config=config)
        assert third.asset_events == []
        assert json.loads(third.cursor)["databricks"]["orders"] == {"done": [update.update_id], "reading": {}}
    assert fake.events_served_twice() == 0


def test_a_continuous_update_dagster_started_is_observed_too(fake, project):
    config = project(CONTINUOUS)
    fake.scripts[fake.orders] = continuous(["orders_bronze", "orders_silver"], [3])
    with instance_for_test() as instance:
        run = materialize(build_table_assets(load_config(config)), instance=instance,
                          resources={"engine": DatabricksPipelinesResource(**FAST)})
        assert run.success and run.get_asset_materialization_events() == []  # started, nothing to report yet
        update = fake.active_update(fake.orders)
        fake.advance(update)
        tick = observe(instance, config=config)
    assert {t: m["num_output_rows"] for t, m in reported(tick).items()} == {"orders_bronze": 3, "orders_silver": 3}


def test_an_outside_update_that_ended_is_read_from_where_it_stopped(fake, project):
    config = project(CONTINUOUS)
    update = fake.start_outside_update(fake.orders, [], continuous(["orders_bronze"], [2, 4]))
    fake.advance(update)
    with instance_for_test() as instance:
        first = observe(instance, config=config)
        fake.finish(update)  # the second batch and the stop happen between two ticks
        last = observe(instance, first.cursor, config=config)
    assert reported(first)["orders_bronze"]["num_output_rows"] == 2
    assert reported(last)["orders_bronze"]["num_output_rows"] == 4


PLAIN = scenario("plain")


def run_outside_dagster(config, tables):
    """What `spark-pipelines run` by hand does: an update no Dagster run knows of."""
    from etl_assets.engines.local.runner import LocalRunner

    outcome = list(LocalRunner(config, current_home()).run("numbers", tables))[-1]
    assert outcome.run_status == "COMPLETED", outcome.error_text()


@pytest.mark.slow
def test_local_tables_changed_outside_dagster_are_reported_once(local_home):
    config = load_config(PLAIN)
    run_outside_dagster(config, ["numbers_bronze", "numbers_silver"])
    with instance_for_test() as instance:
        first = observe(instance, config=PLAIN, engine=local_resource())
        rows = reported(first)
        assert set(rows) == {"numbers_bronze", "numbers_silver"}
        assert rows["numbers_silver"]["dagster/row_count"] == 5 and rows["numbers_silver"]["observed"] is True
        assert rows["numbers_silver"]["table_location"] == str(local_home.table_location("numbers_silver"))
        assert observe(instance, first.cursor, config=PLAIN, engine=local_resource()).asset_events == []

        # What a Dagster run writes, it records itself.
        ours = materialize(build_table_assets(config), instance=instance, selection="numbers_silver",
                           resources={"engine": local_resource()})
        assert ours.success
        after_ours = observe(instance, first.cursor, config=PLAIN, engine=local_resource())
        assert after_ours.asset_events == []

        # While a run that may write the table is in progress, the observer waits for it.
        run_outside_dagster(config, ["numbers_silver", "numbers_gold"])
        # A materialization recorded without a version (by an earlier release) covers the
        # commits made before it.
        instance.report_runless_asset_event(AssetMaterialization(AssetKey("numbers_gold")))
        busy = DagsterRun(job_name="__ASSET_JOB", run_id=str(uuid.uuid4()), status=DagsterRunStatus.STARTED,
                          asset_selection=frozenset({AssetKey("numbers_silver")}))
        instance.add_run(busy)
        waiting = observe(instance, after_ours.cursor, config=PLAIN, engine=local_resource())
        assert waiting.asset_events == []
        instance.delete_run(busy.run_id)
        last = observe(instance, waiting.cursor, config=PLAIN, engine=local_resource())
        assert set(reported(last)) == {"numbers_silver"}
        assert reported(last)["numbers_silver"]["table_version"] != rows["numbers_silver"]["table_version"]
