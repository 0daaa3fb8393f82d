"""The example end to end on local Spark, checked against plain Python over the raw JSON."""

from __future__ import annotations

from datetime import date

import pytest
from dagster import instance_for_test, materialize

from etl_assets.dagster.assets import build_table_assets
from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.tables import read_rows
from etl_assets.example.datagen import generate
from etl_assets.project.load import load_config
from tests.conftest import REPO, local_resource
from tests.support import reference

pytestmark = pytest.mark.slow
ROWS = 400


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from etl_assets.engines.local.runner import stop_warm_spark

    home = LocalHome(tmp_path_factory.mktemp("etl_home"))
    yield home
    stop_warm_spark(home)


@pytest.fixture(autouse=True)
def _use_home(home, monkeypatch):
    monkeypatch.setenv("ETL_ASSETS_HOME", str(home.root))


CHECKS: dict = {}


def run(selection: str = "*", run_config: dict | None = None):
    assets = build_table_assets(load_config(REPO / "config.yml"))
    with instance_for_test() as instance:
        result = materialize(assets, instance=instance, selection=selection, run_config=run_config,
                             resources={"engine": local_resource()}, raise_on_error=False)
    failures = [f.step_failure_data.error.message for f in result.get_step_failure_events()]
    assert result.success, failures
    CHECKS.clear()
    CHECKS.update({
        (e.asset_key.path[-1], e.check_name): (e.passed, e.metadata["passed_records"].value,
                                               e.metadata["failed_records"].value)
        for e in result.get_asset_check_evaluations()
    })
    return {e.materialization.asset_key.path[-1]: e.materialization for e in result.get_asset_materialization_events()}


def within_tolerance(key: tuple[str, str], passed: int, failed: int) -> bool:
    """The verdict config.yml's tolerance of the rule gives these counts."""
    table, rule = key
    (expectation,) = [e for e in load_config(REPO / "config.yml").table(table).expectations if e.name == rule]
    return expectation.within_tolerance(passed, failed)


def expected_checks(files: list) -> dict:
    """Passed/failed per rule over the lines of `files`, computed in plain Python."""
    import json

    def parse(line):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return None

    customers = [parse(line) for f in files if f.parent.name == "customers" for line in f.read_text().splitlines()]
    valid = lambda ok: (sum(ok), len(ok) - sum(ok))  # noqa: E731
    return {
        ("customers_cdc_clean", "no_rescued_data"): valid([r is not None for r in customers]),
        ("customers_cdc_clean", "valid_id"): valid([r is not None and r["id"] is not None for r in customers]),
        ("customers_cdc_clean", "valid_operation"): valid(
            [r is not None and r["operation"] in reference.OPERATIONS for r in customers]),
    }


def rows(home: LocalHome, table: str, columns: tuple[str, ...]) -> list[tuple]:
    _, found = read_rows(home.table_location(table))
    return [tuple(r[c] for c in columns) for r in found]


def check_against_reference(home: LocalHome) -> None:
    landing = home.landing
    bronze_count, events = reference.customer_events(landing)
    assert len(rows(home, "customers_cdc_bronze", ("id",))) == bronze_count
    assert len(rows(home, "customers_cdc_clean", ("id",))) == len(events)
    customers = reference.scd1(events)
    found = rows(home, "customers", reference.CUSTOMER_COLUMNS)
    assert len(found) == len(set(found)) and set(found) == customers
    history = reference.scd2(events)
    found_history = rows(home, "customers_history", (*reference.CUSTOMER_COLUMNS, "__START_AT", "__END_AT"))
    assert set(found_history) == history and len(found_history) == len(history)
    agg = rows(home, "customers_history_agg", ("id", "address_count", "email_count", "firstname_count", "lastname_count"))
    assert set(agg) == reference.history_agg(history)
    order_count, silver, gold = reference.orders(landing, customers)
    assert len(rows(home, "orders_bronze", ("order_id",))) == order_count
    silver_columns = ("customer_id", "order_id", "amount", "order_ts", "firstname", "lastname", "email")
    found_silver = rows(home, "orders_silver", silver_columns)
    assert set(found_silver) == silver and len(found_silver) == len(silver)
    found_gold = {(c, d.isoformat() if isinstance(d, date) else d, n, r)
                  for c, d, n, r in rows(home, "orders_gold", ("customer_id", "order_day", "order_count", "revenue"))}
    assert found_gold == gold


def test_every_table_matches_the_reference(home):
    written = [g.path for g in generate(home.landing, rows=ROWS, seed=11)]
    materialized = run()
    for key, (passed, failed) in expected_checks(written).items():
        assert CHECKS[key] == (within_tolerance(key, passed, failed), passed, failed), key
    order_lines = [line for f in written if f.parent.name == "orders" for line in f.read_text().splitlines()]
    assert CHECKS[("orders_silver", "positive_amount")][2] == sum('"amount": -' in x for x in order_lines) > 0
    assert set(materialized) == {t.name for t in load_config(REPO / "config.yml").tables}
    assert materialized["customers_cdc_bronze"].metadata["dagster/row_count"].value == ROWS
    check_against_reference(home)
    # The generated data exercises what CDC must get right.
    _, events = reference.customer_events(home.landing)
    assert any(e["operation"] == "DELETE" for e in events)
    assert len({e["id"] for e in events}) < len(events)  # repeated keys


def test_second_run_reads_only_new_files(home):
    written = [g.path for g in generate(home.landing, rows=ROWS, seed=11)]
    materialized = run()
    # Streaming tables' checks count this update's rows only: the new file.
    for key, (passed, failed) in expected_checks(written).items():
        assert CHECKS[key] == (within_tolerance(key, passed, failed), passed, failed), key
    assert materialized["customers_cdc_bronze"].metadata["dagster/row_count"].value == 2 * ROWS
    assert materialized["orders_bronze"].metadata["dagster/row_count"].value == 2 * ROWS
    check_against_reference(home)


def test_refreshing_gold_leaves_other_tables_untouched(home):
    def snapshot(table):
        location = home.table_location(table)
        return {p: p.stat().st_mtime_ns for p in location.rglob("*") if p.is_file()}

    before = {t: snapshot(t) for t in ("customers_cdc_bronze", "customers", "orders_silver")}
    gold_before = snapshot("orders_gold")
    # Nothing changed since the last run: the gold tables are recorded as no-op refreshes.
    materialized = run("tag:gold")
    assert set(materialized) == {"customers_history_agg", "orders_gold"}
    assert {m.metadata["refresh"].value for m in materialized.values()} == {"no-op: nothing to do"}
    assert snapshot("orders_gold") == gold_before
    # A full refresh rebuilds them, and only them.
    full = {"ops": {key: {"config": {"full_refresh": True}} for key in ("customers_cdc", "orders")}}
    materialized = run("tag:gold", full)
    assert set(materialized) == {"customers_history_agg", "orders_gold"}
    assert {t: snapshot(t) for t in before} == before
    assert snapshot("orders_gold") != gold_before
    check_against_reference(home)


def test_show_prints_scd2_rows(home, capsys):
    from etl_assets.cli import main

    assert main(["show", "customers_history", "--limit", "3", "--config", str(REPO / "config.yml")]) == 0
    out = capsys.readouterr().out.splitlines()
    # Auto Loader infers JSON columns in name order, as on Databricks; AUTO CDC appends its own.
    assert out[0].split() == ["address", "email", "firstname", "id", "lastname", "__START_AT", "__END_AT"]
    assert out[-1] == "(3 rows)"
    assert main(["show", "orders_gold", "--format", "json", "--limit", "1", "--config", str(REPO / "config.yml")]) == 0
    assert '"revenue"' in capsys.readouterr().out


def test_full_refresh_of_bronze_rebuilds_without_duplicates(home):
    materialized = run("customers_cdc_bronze", {"ops": {"customers_cdc": {"config": {"full_refresh": True}}}})
    assert materialized["customers_cdc_bronze"].metadata["full_refresh"].value is True
    assert materialized["customers_cdc_bronze"].metadata["dagster/row_count"].value == 2 * ROWS
    ids = rows(home, "customers_cdc_bronze", ("id", "operation_date", "_rescued_data"))
    assert len(ids) == len(set(ids)) == 2 * ROWS
