"""An update that answers without a state is followed within `unknown_state_seconds`, then the
step fails saying the update's end is unknown, naming the update and its tables."""

from __future__ import annotations

import time

from dagster import instance_for_test, materialize

from etl_assets.dagster.assets import build_table_assets
from etl_assets.dagster.resources import DatabricksPipelinesResource, default_engine_resource
from etl_assets.project.load import load_config
from tests.conftest import scenario
from tests.support.fake_databricks import FAST, stateless

SHOP = scenario("shop")


def run(fake, seconds: float):
    assets = build_table_assets(load_config(SHOP))
    with instance_for_test() as instance:
        return materialize(assets, instance=instance, selection=["orders_bronze", "orders_silver"],
                           resources={"engine": DatabricksPipelinesResource(**FAST, unknown_state_seconds=seconds)},
                           raise_on_error=False)


def test_an_update_without_a_state_fails_the_step_saying_its_end_is_unknown(fake):
    fake.scripts[fake.orders] = stateless()
    began = time.monotonic()
    result = run(fake, 0.5)
    assert time.monotonic() - began < 60
    assert not result.success and result.get_asset_materialization_events() == []
    (update_id,) = [u.update_id for u in fake.updates.values()]
    polls = fake.calls("GET", f"/updates/{update_id}")
    assert len(polls) > 3  # it did follow the update within the bound, then stopped asking
    error = result.get_step_failure_events()[0].step_failure_data.error
    text = error.message + (error.cause.message if error.cause else "")
    assert f"update {update_id} answered no state for 0.5 s (unknown_state_seconds" in text
    assert f"the end of update {update_id} is UNKNOWN" in text
    assert "not refreshed: orders_bronze, orders_silver" in text and "refreshed: none" in text
    assert f"{fake.url}/#joblist/pipelines/{fake.orders}/updates/{update_id}" in text
    # Nothing is known of it, so it is not stopped either.
    assert fake.calls("POST", "/stop") == []


def test_a_known_state_resets_the_bound(fake):
    # Many polls of a running update take longer than the bound in all, and that is no failure.
    from tests.support.fake_databricks import long_running

    fake.scripts[fake.orders] = long_running(40)
    result = run(fake, 0.05)
    assert result.success


def test_the_bound_is_a_documented_resource_field_and_setting():
    field = DatabricksPipelinesResource.model_fields["unknown_state_seconds"]
    assert field.default == 600.0 and "end is unknown" in (field.description or "")
    chosen = default_engine_resource({"ETL_ASSETS_ENGINE": "databricks",
                                      "ETL_ASSETS_DATABRICKS_UNKNOWN_STATE_SECONDS": "30"})
    assert chosen.get_engine().settings.unknown_state_seconds == 30
