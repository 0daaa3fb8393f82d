"""Recovery run configs on the Databricks engine: a full refresh of some selected tables, and a
checkpoint reset of selected streaming tables, each one update started with the documented
fields (databricks-sdk 0.162+ `start_update`), checked before anything starts."""

from __future__ import annotations

from dagster import instance_for_test, materialize

from etl_assets.dagster.assets import build_table_assets
from etl_assets.dagster.resources import DatabricksPipelinesResource
from etl_assets.project.load import load_config
from tests.conftest import scenario
from tests.support.fake_databricks import FAST

SHOP = scenario("shop")
ORDERS = ["orders_bronze", "orders_silver"]


def run(config: dict, selection=ORDERS):
    assets = build_table_assets(load_config(SHOP))
    with instance_for_test() as instance:
        return materialize(assets, instance=instance, selection=selection,
                           run_config={"ops": {"orders": {"config": config}}},
                           resources={"engine": DatabricksPipelinesResource(**FAST)}, raise_on_error=False)


def starts(fake) -> list[dict]:
    return [body for _, _, _, body in fake.calls("POST", "/updates")]


def failure_text(result) -> str:
    error = result.get_step_failure_events()[0].step_failure_data.error
    return error.message + (error.cause.message if error.cause else "")


def metadata(result) -> dict[str, dict]:
    return {e.materialization.asset_key.path[-1]: {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}


def test_a_full_refresh_of_some_selected_tables_rebuilds_only_those(fake):
    result = run({"full_refresh_tables": ["orders_silver"]})
    assert result.success
    assert starts(fake) == [{"full_refresh_selection": ["orders_silver"], "refresh_selection": ["orders_bronze"]}]
    found = metadata(result)
    assert found["orders_silver"]["full_refresh"] is True and found["orders_bronze"]["full_refresh"] is False
    (update,) = fake.updates.values()
    assert update.tables == ["orders_silver", "orders_bronze"]


def test_a_checkpoint_reset_of_a_streaming_table_keeps_it_in_the_refresh(fake):
    result = run({"reset_checkpoint_tables": ["orders_bronze"]})
    assert result.success
    assert starts(fake) == [{"refresh_selection": ORDERS, "reset_checkpoint_selection": ["orders_bronze"]}]
    (update,) = fake.updates.values()
    assert update.reset_checkpoint_selection == ["orders_bronze"]
    # The SDK reads the update back with the field (databricks-sdk `UpdateInfo`).
    from databricks.sdk import WorkspaceClient

    info = WorkspaceClient(host=fake.url, token=fake.token).pipelines.get_update(fake.orders, update.update_id).update
    assert info is not None and info.state is not None and info.state.value == "COMPLETED"


def test_unknown_unselected_and_non_streaming_names_fail_before_anything_starts(fake):
    result = run({"full_refresh_tables": ["orders_silvr", "customers"], "reset_checkpoint_tables": ["orders_silver"]})
    assert not result.success and starts(fake) == []
    text = failure_text(result)
    assert "full_refresh_tables names 'orders_silvr', which is no table of pipeline 'etl_assets_orders'" in text
    assert "did you mean 'orders_silver'?" in text
    assert "'customers'" in text and "it belongs to pipeline 'customers_cdc'" in text
    assert "reset_checkpoint_tables names 'orders_silver', which is not a streaming table" in text
    assert "materialized view" in text and "full_refresh_tables: [orders_silver]" in text
    result = run({"reset_checkpoint_tables": ["orders_bronze"]}, selection=["orders_silver"])
    assert not result.success and starts(fake) == []
    assert "reset_checkpoint_tables names 'orders_bronze', which this run does not refresh" in failure_text(result)
