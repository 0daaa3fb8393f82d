"""What the local engine's checks say: after an update that wrote no rows, when run on their own
(no refresh), within a tolerance; and which table a flow that failed to resolve belongs to."""

from __future__ import annotations

import json

import pytest
from dagster import AssetCheckKey, AssetKey, AssetSelection, instance_for_test, materialize

from etl_assets.dagster.assets import build_table_assets
from etl_assets.engines.local.tables import count_rows, table_version
from etl_assets.project.load import load_config
from tests.conftest import local_resource, scenario

CHECKS = scenario("checks")


def land(home, name: str, ids: list[int | None]) -> None:
    folder = home.landing / "events"
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f".{name}"
    staged.write_text("".join(json.dumps({"id": i, "batch": name}) + "\n" for i in ids))
    staged.rename(folder / name)


def run(selection=None, **kwargs):
    with instance_for_test() as instance:
        result = materialize(build_table_assets(load_config(CHECKS)), instance=instance, selection=selection,
                             resources={"engine": local_resource()}, raise_on_error=False, **kwargs)
        logs = [e.message for e in instance.all_logs(result.run_id) if e.message]
    return result, logs


def checks_of(result) -> dict[str, tuple[bool, dict]]:
    return {e.check_name: (e.passed, {k: v.value for k, v in e.metadata.items()})
            for e in result.get_asset_check_evaluations()}


@pytest.mark.slow
def test_checks_tell_what_the_update_and_the_table_hold(local_home):
    land(local_home, "first.json", [1, 2, 3, 4, 5, 6, 7, None])  # one null id in eight: within 25%
    result, _ = run()
    assert result.success
    found = checks_of(result)
    assert found["valid_id"][0] is True
    assert {k: found["valid_id"][1][k] for k in ("rows_checked", "passed_records", "failed_records",
                                                  "dropped_records", "failed_share")} == (
        {"rows_checked": 8, "passed_records": 7, "failed_records": 1, "dropped_records": 1, "failed_share": 0.125})
    # Without a tolerance one failing row fails the check: the null id fails `id < 100` too.
    assert found["small_id"][0] is False and found["small_id"][1]["failed_records"] == 1

    # No new landing file: the streaming tables read nothing; the checks pass with zero counts.
    result, _ = run()
    assert result.success
    found = checks_of(result)
    assert {name: passed for name, (passed, _) in found.items()} == {"valid_id": True, "small_id": True}
    for _, metadata in found.values():
        assert (metadata["rows_checked"], metadata["passed_records"], metadata["failed_records"]) == (0, 0, 0)
        assert "error" not in metadata

    # A check run on its own evaluates the table as it is and refreshes nothing.
    land(local_home, "second.json", [100, 200])  # would fail small_id if anything were refreshed
    version = table_version(local_home.table_location("events_clean"))
    check = AssetCheckKey(AssetKey("events_clean"), "small_id")
    result, logs = run(selection=AssetSelection.checks(check))
    assert result.success
    assert not result.get_asset_materialization_events()
    found = checks_of(result)
    assert list(found) == ["small_id"]
    passed, metadata = found["small_id"]
    assert passed is True and (metadata["rows_checked"], metadata["passed_records"]) == (7, 7)
    assert metadata["evaluated"] == "the table as it is, without a refresh"
    assert table_version(local_home.table_location("events_clean")) == version
    assert count_rows(local_home.table_location("events_bronze")) == 8
    assert not any("refresh of" in m for m in logs)
    assert any("nothing is refreshed" in m for m in logs)


@pytest.mark.slow
def test_a_flow_that_fails_to_resolve_is_attributed_to_its_table(local_home, monkeypatch):
    land(local_home, "first.json", [1, 2])
    monkeypatch.setenv("ETL_ASSETS_TEST_READ", "no_such_table")
    result, logs = run()
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    message = error.message + (error.cause.message if error.cause else "")
    assert "failed: events_clean;" in message and "failed: none reported" not in message
    assert "not refreshed: events_bronze" in message
    assert "TABLE_OR_VIEW_NOT_FOUND" in message and "no_such_table" in message
    assert any("flow spark_catalog.default.events_clean FAILED" in m for m in logs)
