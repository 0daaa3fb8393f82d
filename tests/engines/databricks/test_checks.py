"""Checks on Databricks: run on their own they query the published table on a SQL warehouse and
start no update; an update that wrote nothing passes them with zero counts. The real
databricks-sdk against the fake workspace (`fake` in tests/conftest.py)."""

from __future__ import annotations

from dagster import AssetCheckKey, AssetKey, AssetSelection, instance_for_test, materialize

from etl_assets.dagster.assets import build_table_assets
from etl_assets.dagster.resources import DatabricksPipelinesResource
from etl_assets.project.load import load_config
from tests.conftest import scenario
from tests.support.fake_databricks import FAST, Step, flow_event

SHOP = scenario("shop")
VALID_ID = AssetCheckKey(AssetKey("customers_cdc_clean"), "valid_id")
RESCUED = AssetCheckKey(AssetKey("customers_cdc_clean"), "no_rescued_data")


def run(selection, **resource):
    with instance_for_test() as instance:
        result = materialize(build_table_assets(load_config(SHOP)), instance=instance, selection=selection,
                             resources={"engine": DatabricksPipelinesResource(**FAST, **resource)},
                             raise_on_error=False)
        logs = [e.message for e in instance.all_logs(result.run_id) if e.message]
    return result, logs


def failure_text(result) -> str:
    error = result.get_step_failure_events()[0].step_failure_data.error
    return error.message + (error.cause.message if error.cause else "")


def checks_of(result) -> dict[str, tuple[bool, dict]]:
    return {e.check_name: (e.passed, {k: v.value for k, v in e.metadata.items()})
            for e in result.get_asset_check_evaluations()}


def test_a_check_run_on_its_own_queries_the_table_on_the_warehouse_and_starts_no_update(fake):
    fake.tables["main.etl.customers_cdc_clean"] = (
        [{"id": str(i), "_rescued_data": None} for i in range(7)] + [{"id": None, "_rescued_data": "{...}"}])
    fake.statement_pending_polls = 2  # the warehouse answers after a few polls
    result, logs = run(AssetSelection.checks(VALID_ID, RESCUED), warehouse_id="wh-1")
    assert result.success, logs
    assert fake.calls("POST", "/updates") == []
    assert not result.get_asset_materialization_events()
    found = checks_of(result)
    assert set(found) == {"valid_id", "no_rescued_data"}
    passed, metadata = found["valid_id"]
    assert passed is False  # the shop scenario gives no tolerance: one failing row fails it
    assert {k: metadata[k] for k in ("rows_checked", "passed_records", "failed_records", "null_records",
                                     "dropped_records", "failed_share")} == {
        "rows_checked": 8, "passed_records": 7, "failed_records": 1, "null_records": 0, "dropped_records": 0,
        "failed_share": 0.125}
    assert metadata["table_name"] == "`main`.`etl`.`customers_cdc_clean`" and metadata["warehouse_id"] == "wh-1"
    assert metadata["evaluated"] == "the table as it is, without a refresh"
    (_, _, _, body), = fake.calls("POST", "/sql/statements")
    assert body["warehouse_id"] == "wh-1" and "FROM `main`.`etl`.`customers_cdc_clean`" in body["statement"]
    assert len(fake.calls("GET", "/sql/statements/")) == 2


def test_a_check_run_on_its_own_without_a_warehouse_says_what_to_set(fake):
    result, _ = run(AssetSelection.checks(VALID_ID))
    assert not result.success
    message = failure_text(result)
    assert "Set warehouse_id on the Databricks engine resource" in message
    assert "ETL_ASSETS_DATABRICKS_WAREHOUSE_ID" in message
    assert fake.calls("POST", "/updates") == [] and fake.calls("POST", "/sql/statements") == []


def test_a_missing_table_fails_the_check_run_with_the_warehouse_error(fake):
    result, _ = run(AssetSelection.checks(VALID_ID), warehouse_id="wh-1")
    assert not result.success
    message = failure_text(result)
    assert "TABLE_OR_VIEW_NOT_FOUND" in message and "customers_cdc_clean" in message


def test_an_update_that_wrote_no_rows_passes_its_checks_with_zero_counts(fake):
    fake.scripts[fake.cdc] = lambda update: [
        Step("RUNNING", [flow_event(t, "RUNNING") for t in update.tables]),
        Step("COMPLETED", [flow_event(t, "COMPLETED", rows=0) for t in update.tables]),
    ]
    result, logs = run(["customers_cdc_bronze", "customers_cdc_clean"])
    assert result.success, logs
    found = checks_of(result)
    assert {name: passed for name, (passed, _) in found.items()} == {
        "no_rescued_data": True, "valid_id": True, "valid_operation": True}
    for _, metadata in found.values():
        assert (metadata["rows_checked"], metadata["failed_records"]) == (0, 0) and "error" not in metadata


def test_checks_of_a_table_left_out_of_the_update_are_evaluated_on_the_table_as_it_is(fake):
    fake.tables["main.etl.customers_cdc_clean"] = [{"id": str(i), "_rescued_data": None} for i in range(3)]
    selection = AssetSelection.assets("customers_cdc_bronze") | AssetSelection.checks(VALID_ID)
    result, logs = run(selection, warehouse_id="wh-1")
    assert result.success, logs
    assert [body for _, _, _, body in fake.calls("POST", "/updates")] == [
        {"refresh_selection": ["customers_cdc_bronze"]}]
    assert [e.materialization.asset_key.path[-1] for e in result.get_asset_materialization_events()] == [
        "customers_cdc_bronze"]
    passed, metadata = checks_of(result)["valid_id"]
    assert passed is True and metadata["rows_checked"] == 3
    assert metadata["evaluated"] == "the table as it is, without a refresh"
