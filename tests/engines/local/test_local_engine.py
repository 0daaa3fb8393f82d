"""The local engine on real Spark Declarative Pipelines, driven through Dagster."""

from __future__ import annotations

import logging

import pytest
from dagster import instance_for_test, materialize

from etl_assets.dagster.assets import build_table_assets
from etl_assets.project.load import load_config
from tests.conftest import local_resource, scenario

SCENARIO = scenario("plain")


def materialized(result) -> dict[str, dict]:
    return {
        e.materialization.asset_key.path[-1]: {k: getattr(v, "value", v) for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


@pytest.mark.slow
def test_selected_tables_run_on_spark_and_report_row_counts(local_home, tmp_path):
    assets = build_table_assets(load_config(SCENARIO))
    with instance_for_test() as instance:
        result = materialize(assets, instance=instance, selection="tag:daily", resources={"engine": local_resource()})
        logs = [(logging.getLevelName(e.level), e.message) for e in instance.all_logs(result.run_id) if e.message]
    assert result.success
    found = materialized(result)
    assert set(found) == {"numbers_bronze", "numbers_silver"}
    assert found["numbers_bronze"]["dagster/row_count"] == 10
    assert found["numbers_silver"]["dagster/row_count"] == 5
    assert found["numbers_silver"]["table_location"] == str(tmp_path / "home" / "warehouse" / "numbers_silver")
    assert found["numbers_silver"]["dagster/column_schema"].columns[0].name == "n"
    assert found["numbers_silver"]["dagster/column_schema"].columns[0].type == "bigint"
    assert found["numbers_silver"]["table_commit"].startswith("written at ")
    # One info line per table with its outcome and rows; flow states are debug; no start-up noise.
    info = [m for level, m in logs if level == "INFO"]
    assert any(m.startswith("numbers_silver: COMPLETED") and m.endswith(", 5 rows") for m in info)
    assert not any("flow spark_catalog" in m for m in info)
    assert any("flow spark_catalog.default.numbers_silver COMPLETED" in m for _, m in logs)
    assert not any("Using incubator modules" in m or "log4j" in m for _, m in logs)
    # Only the selection ran: the unselected table was never written.
    assert not (tmp_path / "home" / "warehouse" / "letters_bronze").exists()
    spec = (tmp_path / "home" / "specs" / "numbers.yml").read_text()
    assert "etl_assets.engine: local" in spec


@pytest.mark.slow
def test_a_failing_table_fails_the_step_and_keeps_what_completed(local_home, monkeypatch):
    from etl_assets.engines.local.tables import count_rows

    assets = build_table_assets(load_config(SCENARIO))
    with instance_for_test() as instance:
        assert materialize(assets, instance=instance, resources={"engine": local_resource()}).success
    monkeypatch.setenv("ETL_ASSETS_TEST_BREAK_SILVER", "1")
    with instance_for_test() as instance:
        result = materialize(assets, instance=instance, raise_on_error=False, resources={"engine": local_resource()})
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "pipeline 'numbers' failed" in message
    assert "failed: numbers_silver" in message
    assert "skipped for an upstream failure: numbers_gold" in message
    assert "numbers_silver broke on purpose" in message
    # Independent tables that completed are still recorded.
    found = materialized(result)
    assert set(found) == {"numbers_bronze", "letters_bronze"}
    assert found["numbers_bronze"]["dagster/row_count"] == 10
    # What the earlier run wrote is still there.
    assert count_rows(local_home.table_location("numbers_silver")) == 5
    assert count_rows(local_home.table_location("numbers_gold")) == 1


def test_spark_start_up_noise_is_dropped_and_warnings_and_errors_kept():
    from etl_assets.engines.local.engine import _line_log

    assert _line_log("WARNING: Using incubator modules: jdk.incubator.vector") is None
    assert _line_log("26/11/30 10:00:00 WARN Utils: Your hostname, x resolves to a loopback address: 127.0.1.1") is None
    assert _line_log("Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties") is None
    assert _line_log("        at org.apache.spark.Foo(Foo.scala:1)") is None
    assert _line_log("26/11/30 10:00:00 WARN MemoryStore: Not enough space").level == "warning"
    assert _line_log("pyspark.errors.exceptions.connect.AnalysisException: [TABLE_OR_VIEW_NOT_FOUND]").level == "error"
    assert _line_log("2026-11-30 10:00:00: Loading definitions.").level == "debug"


def test_selection_maps_to_refresh_or_full_refresh(tmp_path, monkeypatch):
    from etl_assets.engines.local.home import LocalHome
    from etl_assets.engines.local.runner import LocalRunner

    runner = LocalRunner(load_config(SCENARIO), LocalHome(tmp_path / "home"))
    command = runner.command("numbers", ["numbers_bronze", "numbers_silver"], full_refresh=False)
    assert command[1:4] == ["-m", "etl_assets.engines.local.client", "--spec"]
    assert command[5:7] == ["--refresh", "numbers_bronze,numbers_silver"]
    command = runner.command("numbers", ["numbers_silver"], full_refresh=True)
    assert command[5:7] == ["--full-refresh", "numbers_silver"]
    assert "spark.sql.catalogImplementation hive" in (tmp_path / "home" / "conf" / "spark-defaults.conf").read_text()
    env = runner.environment({"port": 15123, "token": "secret"})
    assert env["SPARK_CONF_DIR"] == str(tmp_path / "home" / "conf")
    # The server's token reaches the client through its environment, never its command line.
    assert env["ETL_ASSETS_CONNECT_PORT"] == "15123" and env["ETL_ASSETS_CONNECT_TOKEN"] == "secret"
    assert "secret" not in " ".join(command)
