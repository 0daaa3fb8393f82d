"""Numbers the events API did not carry (its documented response has no `details`) are read from
the pipeline's event log table on the SQL warehouse; without one, the materialization says
where they would come from."""

from __future__ import annotations

import logging

from dagster import AssetKey, MaterializeResult

from etl_assets.dagster.results import stream_results
from etl_assets.engines.base import RefreshRequest
from etl_assets.engines.databricks.settings import DatabricksSettings
from etl_assets.engines.databricks.updates import DatabricksEngine
from etl_assets.engines.events import NOT_REPORTED
from etl_assets.project.load import load_config
from tests.conftest import scenario
from tests.support.fake_databricks import FAST

TABLES = ["orders_bronze", "orders_gold"]


def materialize(warehouse_id: str | None) -> dict[str, dict]:
    config = load_config(scenario("shop"))
    request = RefreshRequest(config, config.pipelines["orders"], TABLES)
    engine = DatabricksEngine(settings=DatabricksSettings(**FAST), warehouse_id=warehouse_id)
    results = stream_results(engine.refresh(request), request, {t.name: AssetKey(t.name) for t in config.tables},
                             logging.getLogger("test"))
    return {r.asset_key.path[-1]: dict(r.metadata or {}) for r in results if isinstance(r, MaterializeResult)}


def test_numbers_come_from_the_event_log_table_on_the_warehouse(fake):
    fake.events_without_details = True
    found = materialize("wh-1")
    assert list(found) == TABLES
    assert found["orders_bronze"]["rows_written"] == 10 and found["orders_bronze"]["num_output_rows"] == 10
    assert found["orders_gold"]["numbers_read_from"] == f"event_log('{fake.orders}') on SQL warehouse wh-1"
    (sql,) = [body["statement"] for _, _, _, body in fake.calls("POST", "/sql/statements")]
    assert f"FROM event_log('{fake.orders}') WHERE origin.update_id = 'update-" in sql


def test_without_a_warehouse_the_materialization_says_where_the_numbers_would_come_from(fake):
    fake.events_without_details = True
    found = materialize(None)
    assert list(found) == TABLES  # completed: every selected table materialized, numbers not reported
    assert found["orders_bronze"]["rows_written"] == NOT_REPORTED
    assert "event_log(<pipeline id>)" in found["orders_bronze"]["numbers_from"]
    assert "set warehouse_id" in found["orders_bronze"]["numbers_from"]
    assert fake.calls("POST", "/sql/statements") == []


def test_numbers_the_events_api_carried_are_not_read_again(fake):
    found = materialize("wh-1")
    assert found["orders_bronze"]["rows_written"] == 10 and "numbers_read_from" not in found["orders_bronze"]
    assert fake.calls("POST", "/sql/statements") == []


def test_an_event_log_table_that_cannot_be_read_leaves_the_numbers_not_reported(fake):
    fake.events_without_details = True
    fake.warehouses.clear()
    found = materialize("wh-1")
    assert found["orders_gold"]["rows_written"] == NOT_REPORTED
