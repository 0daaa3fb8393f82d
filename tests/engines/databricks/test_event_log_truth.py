"""What the Databricks engine reports matches what the event log says, in every documented shape:
Unity Catalog and back-quoted names, flows named apart from their table, late events, backlog
gauges, AUTO CDC counts, SDK timeouts, and updates that are not ours."""

from __future__ import annotations

import json
import logging

import pytest
from dagster import DagsterExecutionInterruptedError, instance_for_test

from etl_assets.conventions import name_parts
from etl_assets.engines.base import RefreshRequest
from etl_assets.engines.databricks.event_log import EventReader
from etl_assets.engines.databricks.progress import FlowNames
from etl_assets.engines.databricks.settings import DatabricksSettings
from etl_assets.engines.databricks.updates import DatabricksEngine
from etl_assets.engines.events import Log, RunFinished
from etl_assets.errors import DatabricksApiError
from etl_assets.project.load import load_config
from tests.conftest import scenario
from tests.dagster.test_observer import CONTINUOUS, observe, reported
from tests.engines.databricks.test_databricks_engine import failure_text, materialized, run
from tests.support.fake_databricks import (
    FAST,
    FakeUpdate,
    Step,
    continuous_with_backlog,
    failing_flow,
    flow_definition,
    flow_event,
    late_completion,
    long_running,
    stopped,
    unity_catalog,
)


def request_for(pipeline: str, tables: list[str]) -> RefreshRequest:
    config = load_config(scenario("shop"))
    return RefreshRequest(config, config.pipelines[pipeline], tables)


# -- 1. flows mapped to config tables through every naming shape ------------------------------


def test_unity_catalog_names_and_renamed_flows_are_materialized(fake):  # noqa: F811
    fake.scripts[fake.cdc] = unity_catalog(cdc=("customers",))
    result, _ = run(["customers_cdc_bronze", "customers_cdc_clean", "customers"])
    assert result.success
    found = materialized(result)
    assert list(found) == ["customers_cdc_bronze", "customers_cdc_clean", "customers"]
    assert found["customers_cdc_bronze"]["rows_written"] == 10
    assert found["customers_cdc_clean"]["rows_written"] == 10
    assert found["customers"]["rows_written"] == 8  # its AUTO CDC flow's upserts and deletes


def test_a_failed_flow_named_only_by_its_flow_names_the_failing_table(fake):  # noqa: F811
    fake.scripts[fake.orders] = failing_flow("orders_silver", "[UNRESOLVED_COLUMN] amount cannot be resolved")
    result, _ = run(["orders_bronze", "orders_silver", "orders_gold"])
    assert not result.success
    message = failure_text(result)
    assert "failed: orders_silver" in message
    assert "skipped for an upstream failure: orders_gold" in message
    assert "orders_silver: [UNRESOLVED_COLUMN] amount cannot be resolved" in message
    assert list(materialized(result)) == ["orders_bronze"]


def test_names_are_parsed_like_unity_catalog_identifiers():
    assert name_parts("`main`.`sales`.`orders.v2`") == ["main", "sales", "orders.v2"]
    assert name_parts("main.`we``ird`.t") == ["main", "we`ird", "t"]
    flows = FlowNames(["orders_silver"])
    assert flows.table_of({"origin": {"dataset_name": "MAIN.Sales.Orders_Silver"}}) == "orders_silver"
    assert flows.table_of({"origin": {"dataset_name": "main.sales.orders_gold"}}) is None
    flows.learn(flow_definition("`main`.`sales`.`silver_cdc`", "`main`.`sales`.`orders_silver`"))
    assert flows.table_of({"origin": {"flow_name": "main.sales.silver_cdc"}}) == "orders_silver"
    assert FlowNames(["orders_silver"], flows.saved()).table_of({"origin": {"flow_name": "silver_cdc"}}) == "orders_silver"


def test_a_continuous_update_keeps_its_flow_names_across_ticks(fake, project):  # noqa: F811
    config = project(CONTINUOUS)

    def renamed(update: FakeUpdate) -> list[Step]:
        flow = "`main`.`etl`.`orders_ingest`"
        return [Step("INITIALIZING", [flow_definition(flow, "main.etl.orders_bronze")])] + [
            Step("RUNNING", [flow_event("orders_bronze", "RUNNING", naming="flow_only", flow=flow,
                                        metrics={"num_output_rows": n})]) for n in (3, 4)] + [Step("CANCELED")]

    update = fake.start_outside_update(fake.orders, [], renamed)
    fake.advance(update)
    with instance_for_test() as instance:
        first = observe(instance, config=config)
        fake.advance(update)  # the flow definition was read at the first tick only
        second = observe(instance, first.cursor, config=config)
    assert reported(first)["orders_bronze"]["rows_written"] == 3
    assert reported(second)["orders_bronze"]["rows_written"] == 4
    assert len(json.dumps(json.loads(second.cursor))) < 1000  # the cursor stays small


def test_a_metrics_reading_after_a_failure_keeps_the_failure(fake):  # noqa: F811
    def failed_then_metrics(update: FakeUpdate) -> list[Step]:
        error = {**flow_event("orders_bronze", "FAILED", naming="uc"), "level": "ERROR",
                 "error": {"fatal": True, "exceptions": [{"class_name": "SparkException", "message": "disk full"}]}}
        reading = flow_event("orders_bronze", "RUNNING", naming="uc", level="METRICS",
                             metrics={"num_output_rows": None, "backlog_bytes": 10})
        return [Step("RUNNING", [error]), Step("FAILED", [reading])]

    fake.scripts[fake.orders] = failed_then_metrics
    result, _ = run("orders_bronze")
    message = failure_text(result)
    assert "failed: orders_bronze" in message and "disk full" in message


# -- 2. events that become visible late -------------------------------------------------------


def test_an_event_visible_only_after_a_later_poll_is_not_lost(fake):  # noqa: F811
    fake.scripts[fake.orders] = late_completion("orders_bronze")
    result, logs = run(["orders_bronze", "orders_silver"])
    assert result.success
    found = materialized(result)
    assert list(found) == ["orders_bronze", "orders_silver"]
    assert found["orders_bronze"]["rows_written"] == 10  # read again in the overlap, counted once
    assert not any("completed without reporting" in m for m in logs)
    assert fake.events_served_twice() == 0


def test_the_reader_position_stays_small_json_and_reports_each_event_once(fake):  # noqa: F811
    def chatty(update):
        return [Step("RUNNING", [flow_event("orders_bronze", "RUNNING", rows=1) for _ in range(300)]),
                Step("RUNNING", [flow_event("orders_bronze", "RUNNING", rows=1) for _ in range(5)]),
                Step("COMPLETED")]

    update = fake.start_outside_update(fake.orders, ["orders_bronze"], chatty)
    w = DatabricksEngine(settings=DatabricksSettings(**FAST)).client()
    reader = EventReader(w, fake.orders, update.update_id)
    assert len(reader.read_new()) == 300
    position = json.loads(json.dumps(reader.position))
    # Only the ids inside the overlap window are kept (events are 0.5 s apart in the fake).
    assert len(position["ids"]) <= 12
    assert reader.read_new() == []
    fake.advance(update)
    resumed = EventReader.resume(w, fake.orders, update.update_id, position)
    fresh = resumed.read_new()
    assert len(fresh) == 5 and resumed.read_new() == []


def test_an_outside_update_that_ended_before_its_last_events_showed_is_read_once_more(fake):  # noqa: F811
    outside = fake.start_outside_update(fake.orders, ["orders_bronze", "orders_silver"], late_completion("orders_silver"))
    fake.finish(outside)
    with instance_for_test() as instance:
        first = observe(instance)
        fake.pass_time()  # the held-back COMPLETED event of orders_silver shows up
        second = observe(instance, first.cursor)
        third = observe(instance, second.cursor)
    assert [e.asset_key.path[-1] for e in first.asset_events] == ["orders_bronze"]
    assert [e.asset_key.path[-1] for e in second.asset_events] == ["orders_silver"]
    assert third.asset_events == []
    assert json.loads(third.cursor)["databricks"]["orders"] == {"done": [outside.update_id], "reading": {}}


# -- 3. backlog gauges are not rows -----------------------------------------------------------


def test_backlog_gauges_are_the_latest_reading_and_never_rows(fake, project):  # noqa: F811
    config = project(CONTINUOUS)
    update = fake.start_outside_update(fake.orders, [], continuous_with_backlog(
        ["orders_bronze", "orders_silver"], batches=[5, 0, 0], backlog=[4000, 1000, 500]))
    fake.advance(update)  # a batch of 5 rows, backlog 4000 bytes
    fake.advance(update)  # idle, backlog 1000 bytes
    with instance_for_test() as instance:
        first = observe(instance, config=config)
        fake.advance(update)  # idle again: gauges only, no rows
        second = observe(instance, first.cursor, config=config)
    assert second.asset_events == []
    rows = reported(first)
    assert rows["orders_bronze"]["num_output_rows"] == 5 and rows["orders_bronze"]["rows_written"] == 5
    assert rows["orders_bronze"]["backlog_bytes"] == 1000  # the latest gauge, not 4000 + 1000
    assert rows["orders_bronze"]["backlog_files"] == 1


# -- 4. SDK timeouts go through the reconnect bound -------------------------------------------


def test_sdk_timeouts_within_the_reconnect_bound_are_waited_out(fake):  # noqa: F811
    settings = DatabricksSettings(**{**FAST, "retry_timeout_seconds": 1, "reconnect_seconds": 120})
    fake.fail("/updates/update-", "drop", times=2)  # each drop outlasts the SDK's own 1 s of retries
    events = list(DatabricksEngine(settings=settings).refresh(request_for("orders", ["orders_bronze"])))
    assert isinstance(events[-1], RunFinished) and events[-1].status == "COMPLETED"
    assert any(isinstance(e, Log) and "retrying" in e.message and e.level == "warning" for e in events)


def test_past_the_reconnect_bound_the_error_names_host_and_credential_source(fake):  # noqa: F811
    settings = DatabricksSettings(**{**FAST, "retry_timeout_seconds": 1, "reconnect_seconds": 0.5})
    fake.fail("/updates/update-", "drop", times=20)
    with pytest.raises(DatabricksApiError) as raised:
        list(DatabricksEngine(settings=settings).refresh(request_for("orders", ["orders_bronze"])))
    message = str(raised.value)
    assert fake.url in message and "environment (DATABRICKS_HOST, DATABRICKS_TOKEN" in message
    assert "reconnect_seconds" in message
    assert fake.token not in message


def test_a_workspace_that_does_not_answer_is_one_error_naming_host_and_credentials(fake):  # noqa: F811
    settings = DatabricksSettings(**{**FAST, "retry_timeout_seconds": 1})
    fake.fail("/api/2.0/pipelines", "drop", times=5)  # looking the pipeline up by name
    with pytest.raises(DatabricksApiError) as raised:
        list(DatabricksEngine(settings=settings).refresh(request_for("orders", ["orders_bronze"])))
    message = str(raised.value)
    assert f"no answer from Databricks at {fake.url}" in message and "looking up pipeline" in message
    assert "environment (DATABRICKS_HOST, DATABRICKS_TOKEN" in message and fake.token not in message


# -- 5. AUTO CDC row counts -------------------------------------------------------------------


def auto_cdc(update: FakeUpdate) -> list[Step]:
    """`customers` is written by AUTO CDC: upserts and deletes, no `num_output_rows`."""
    def done(table: str) -> dict:
        metrics = {"num_upserted_rows": 6, "num_deleted_rows": 2} if table == "customers" else {"num_output_rows": 10}
        return flow_event(table, "COMPLETED", metrics=metrics)

    return [Step("RUNNING", [flow_event(t, "RUNNING") for t in update.tables]),
            Step("RUNNING", [done(t) for t in update.tables]), Step("COMPLETED")]


def test_auto_cdc_rows_are_upserted_plus_deleted_and_say_so(fake):  # noqa: F811
    fake.scripts[fake.cdc] = auto_cdc
    result, _ = run(["customers_cdc_bronze", "customers_cdc_clean", "customers"])
    meta = materialized(result)["customers"]
    assert "num_output_rows" not in meta  # not reported by an AUTO CDC flow, so not shown as 0
    assert meta["rows_written"] == 8
    assert meta["rows_written_from"] == "num_upserted_rows + num_deleted_rows"
    assert meta["num_upserted_rows"] == 6 and meta["num_deleted_rows"] == 2
    assert "dagster/row_count" not in meta  # rows written is not the table's row count
    assert materialized(result)["customers_cdc_bronze"]["rows_written_from"] == "num_output_rows"


# -- 6. stop only our own update --------------------------------------------------------------


def test_an_interrupted_run_does_not_stop_an_update_that_is_not_ours(fake, caplog):  # noqa: F811
    fake.scripts[fake.orders] = long_running(10_000)
    ticks = []

    def sleep(seconds: float) -> None:
        ticks.append(seconds)
        if len(ticks) == 2:
            # Someone else's update has become the pipeline's current one by the time Dagster
            # stops the run, while our update still reads as active (its state lags behind).
            fake.start_outside_update(fake.orders, ["orders_gold"], long_running(10_000))
            raise DagsterExecutionInterruptedError()

    engine = DatabricksEngine(settings=DatabricksSettings(**FAST), sleep=sleep)
    with caplog.at_level(logging.WARNING), pytest.raises(DagsterExecutionInterruptedError):
        list(engine.refresh(request_for("orders", ["orders_bronze"])))
    assert fake.calls("POST", "/stop") == []
    assert fake.updates["update-002"].state == "RUNNING"
    assert any("not ours" in r.getMessage() and "update-002" in r.getMessage() for r in caplog.records)


# -- 7. every documented state and status -----------------------------------------------------


def test_a_stopped_update_through_every_state_reports_each_table_truthfully(fake):  # noqa: F811
    fake.scripts[fake.orders] = stopped("orders_bronze", "orders_silver", "orders_gold")
    result, logs = run(["orders_bronze", "orders_silver", "orders_gold"])
    assert not result.success
    message = failure_text(result)
    assert "CANCELED" in message and "not refreshed: orders_silver, orders_gold" in message
    assert list(materialized(result)) == ["orders_bronze"]
    assert materialized(result)["orders_bronze"]["rows_written"] == 4


def test_the_flow_definitions_schema_becomes_the_tables_columns_and_is_left_out_without_one():
    from etl_assets.engines.databricks.progress import TableProgress, apply_event, completion_events

    progress = {"orders": TableProgress(), "sales": TableProgress()}
    definition = {"event_type": "flow_definition", "origin": {"flow_name": "orders", "dataset_name": "orders"},
                  "details": {"flow_definition": {"output_dataset": "orders", "schema": [
                      {"name": "id", "data_type": "BIGINT"}, {"name": "amount", "data_type": "DECIMAL(10,2)",
                                                             "comment": "in euros"}]}}}
    apply_event(definition, progress, [])
    orders = completion_events("orders", progress["orders"], "u1", "p1", "http://x", False, with_quality=False)[0]
    assert orders.metadata["columns"] == [{"name": "id", "type": "BIGINT"},
                                          {"name": "amount", "type": "DECIMAL(10,2)", "description": "in euros"}]
    sales = completion_events("sales", progress["sales"], "u1", "p1", "http://x", False, with_quality=False)[0]
    assert "columns" not in sales.metadata
