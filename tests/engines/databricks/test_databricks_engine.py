"""The Databricks engine: the real databricks-sdk against a fake workspace on 127.0.0.1 (the `fake`
fixture of tests/conftest.py), on the `shop` scenario whose pipelines it serves."""

from __future__ import annotations

import pytest
from dagster import instance_for_test, materialize

from etl_assets.dagster.assets import build_table_assets
from etl_assets.dagster.resources import DatabricksPipelinesResource, LocalPipelinesResource
from etl_assets.engines.base import RefreshRequest
from etl_assets.engines.databricks.settings import DatabricksSettings
from etl_assets.engines.databricks.updates import DatabricksEngine
from etl_assets.errors import DatabricksApiError
from etl_assets.project.load import load_config
from tests.conftest import scenario
from tests.support.fake_databricks import FAST, canceled, failing, long_running

SHOP = scenario("shop")
FAST_SETTINGS = DatabricksSettings(**FAST)


def run(selection, run_config: dict | None = None, engine=None):
    assets = build_table_assets(load_config(SHOP))
    with instance_for_test() as instance:
        result = materialize(assets, instance=instance, selection=selection, run_config=run_config,
                             resources={"engine": engine or DatabricksPipelinesResource(**FAST)}, raise_on_error=False)
        logs = [e.message for e in instance.all_logs(result.run_id) if e.message]
    return result, logs


def materialized(result) -> dict[str, dict]:
    return {e.materialization.asset_key.path[-1]: {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}


def failure_text(result) -> str:
    error = result.get_step_failure_events()[0].step_failure_data.error
    return error.message + (error.cause.message if error.cause else "")


def starts(fake) -> list[tuple[str, dict]]:
    return [(path.split("/")[4], body) for _, path, _, body in fake.calls("POST", "/updates")]


def test_one_update_per_pipeline_with_exactly_the_selection(fake):
    result, logs = run("tag:daily and tag:critical")
    assert result.success
    assert starts(fake) == [
        (fake.cdc, {"refresh_selection": ["customers_cdc_bronze", "customers_cdc_clean", "customers"]}),
        (fake.orders, {"refresh_selection": ["orders_bronze", "orders_silver"]}),
    ]
    found = materialized(result)
    assert list(found) == ["customers_cdc_bronze", "customers_cdc_clean", "customers", "orders_bronze", "orders_silver"]
    meta = found["orders_silver"]
    assert meta["num_output_rows"] == 10 and meta["num_upserted_rows"] == 10 and meta["dropped_records"] == 1
    assert meta["update_id"].startswith("update-")
    assert meta["update_url"] == f"{fake.url}/#joblist/pipelines/{fake.orders}/updates/{meta['update_id']}"
    checks = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    valid_id = checks[("customers_cdc_clean", "valid_id")]
    assert not valid_id.passed and valid_id.metadata["failed_records"].value == 1
    assert "reported no results" in checks[("customers_cdc_clean", "no_rescued_data")].metadata["error"].value
    assert any("customers_cdc_clean: COMPLETED" in m for m in logs)
    assert fake.events_served_twice() == 0


def test_full_refresh_uses_full_refresh_selection(fake):
    result, _ = run("orders_bronze", {"ops": {"orders": {"config": {"full_refresh": True}}}})
    assert result.success
    assert starts(fake) == [(fake.orders, {"full_refresh_selection": ["orders_bronze"]})]


def test_failed_table_fails_the_step_with_the_event_log_messages(fake):
    fake.scripts[fake.orders] = failing("orders_silver", "[UNRESOLVED_COLUMN] amount cannot be resolved")
    result, _ = run(["orders_bronze", "orders_silver", "orders_gold"])
    assert not result.success
    message = failure_text(result)
    assert "update update-" in message and "FAILED" in message
    assert "failed: orders_silver" in message and "not refreshed: orders_gold" in message
    assert "[UNRESOLVED_COLUMN] amount cannot be resolved" in message
    assert list(materialized(result)) == ["orders_bronze"]


def test_canceled_update_fails_the_step(fake):
    fake.scripts[fake.orders] = canceled()
    result, _ = run("orders_bronze")
    assert not result.success
    assert "CANCELED" in failure_text(result)
    assert materialized(result) == {}


def test_waits_for_an_active_update_then_starts(fake):
    outside = fake.start_outside_update(fake.orders, ["orders_gold"], long_running(3))
    result, logs = run("orders_bronze")
    assert result.success
    assert outside.state == "COMPLETED"
    assert any("has an active update" in m for m in logs)
    assert len(starts(fake)) == 1


def test_active_update_past_the_bound_fails_without_starting(fake):
    fake.start_outside_update(fake.orders, ["orders_gold"], long_running(10_000))
    result, _ = run("orders_bronze", engine=DatabricksPipelinesResource(**{**FAST, "wait_active_seconds": 0.05}))
    assert not result.success
    assert "still has an active update" in failure_text(result)
    assert starts(fake) == []


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limits_and_unavailability_are_retried(fake, status):
    fake.fail("/updates", status, times=3)
    fake.fail("/events", status, times=2)
    # The SDK sleeps Retry-After (0 here) plus up to 1 s of jitter between attempts: three
    # refusals can take most of FAST's 5 s budget on a busy machine. The budget is not what is
    # tested here (test_fail_fast.py tests running out of it).
    result, _ = run("orders_bronze", engine=DatabricksPipelinesResource(**{**FAST, "retry_timeout_seconds": 60}))
    assert result.success
    assert len(fake.updates) == 1
    assert len(fake.calls("POST", "/updates")) == 4  # three refused by the workspace, one accepted


def test_a_dropped_connection_while_polling_resumes(fake):
    fake.fail("/updates/update-", "drop", times=2)
    result, _ = run("orders_bronze")
    assert result.success
    assert list(materialized(result)) == ["orders_bronze"]


def test_refused_credentials_name_their_source_not_the_token(fake, monkeypatch):
    monkeypatch.setenv("DATABRICKS_TOKEN", "wrong-secret-value")
    result, _ = run("orders_bronze")
    message = failure_text(result)
    assert "refused the credentials" in message
    assert "environment (DATABRICKS_HOST, DATABRICKS_TOKEN" in message
    assert "wrong-secret-value" not in message
    assert starts(fake) == []


def test_forbidden_is_reported_as_refused_credentials(fake):
    fake.fail("/api/2.0/pipelines", 403)
    result, _ = run("orders_bronze")
    assert "refused the credentials" in failure_text(result) and "Invalid access token" in failure_text(result)


def test_pipeline_name_matching_none(fake):
    fake.pipelines[fake.orders]["name"] = "etl_assets_orders_old"
    result, _ = run("orders_bronze")
    message = failure_text(result)
    assert "no pipeline named 'etl_assets_orders'" in message and "etl_assets_orders_old" in message


def test_pipeline_name_matching_two(fake):
    twin = fake.add_pipeline("etl_assets_orders")
    result, _ = run("orders_bronze")
    message = failure_text(result)
    assert "2 pipelines are named 'etl_assets_orders'" in message and twin in message and fake.orders in message


def test_an_id_in_config_skips_the_lookup_and_404_names_it(fake, project):
    path = project("""
        pipelines:
          orders: {name: whatever, id: 9999-missing}
        tables:
          - {name: orders_bronze, layer: bronze}
    """)
    engine = DatabricksEngine(settings=FAST_SETTINGS)
    config = load_config(path)
    request = RefreshRequest(config, config.pipelines["orders"], ["orders_bronze"])
    with pytest.raises(DatabricksApiError, match="reading pipeline 'orders' \\(id 9999-missing\\)"):
        list(engine.refresh(request))
    assert [c for c in fake.requests if c[1] == "/api/2.0/pipelines"] == []  # no lookup by name
    assert starts(fake) == []


def test_terminated_run_stops_the_update_it_started(fake):
    from dagster import DagsterExecutionInterruptedError

    fake.scripts[fake.orders] = long_running(10_000)
    config = load_config(SHOP)
    request = RefreshRequest(config, config.pipelines["orders"], ["orders_bronze"])
    ticks = []

    def sleep(seconds: float) -> None:
        # Dagster interrupts a terminated run's step inside whatever it is waiting on.
        ticks.append(seconds)
        if len(ticks) == 3:
            raise DagsterExecutionInterruptedError()

    engine = DatabricksEngine(settings=FAST_SETTINGS, sleep=sleep)
    with pytest.raises(DagsterExecutionInterruptedError):
        list(engine.refresh(request))
    assert len(fake.calls("POST", "/stop")) == 1
    assert fake.updates["update-001"].state == "CANCELED"


def test_an_update_that_ended_is_not_stopped(fake):
    result, _ = run("orders_bronze")
    assert result.success and fake.calls("POST", "/stop") == []


CONTINUOUS = """
    pipelines:
      orders: {name: etl_assets_orders, continuous: true}
    tables:
      - {name: orders_bronze, layer: bronze, pipeline: orders}
      - {name: orders_silver, layer: silver, pipeline: orders, depends_on: [orders_bronze]}
"""


def run_config_file(path, selection="*", engine=None):
    assets = build_table_assets(load_config(path))
    with instance_for_test() as instance:
        return materialize(assets, instance=instance, selection=selection, raise_on_error=False,
                           resources={"engine": engine or DatabricksPipelinesResource(**FAST)})


def test_continuous_pipeline_not_running_is_started_once_without_a_selection(fake, project):
    result = run_config_file(project(CONTINUOUS))
    assert result.success
    assert starts(fake) == [(fake.orders, {})]
    assert materialized(result) == {}


def test_continuous_pipeline_running_reports_what_it_refreshed(fake, project):
    running = fake.start_outside_update(fake.orders, ["orders_bronze", "orders_silver"])
    fake.finish(running)
    running.steps[-1].state = "RUNNING"  # a continuous update does not end
    result = run_config_file(project(CONTINUOUS))
    assert result.success
    assert starts(fake) == []
    found = materialized(result)
    assert set(found) == {"orders_bronze", "orders_silver"}
    assert found["orders_silver"]["continuous"] is True and found["orders_silver"]["update_id"] == running.update_id


def test_continuous_pipeline_on_the_local_engine_says_so(project):
    result = run_config_file(project(CONTINUOUS), engine=LocalPipelinesResource())
    assert not result.success
    assert "has no continuous mode" in failure_text(result)
