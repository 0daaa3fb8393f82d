"""No credential leaves the Databricks engine, not even when the workspace echoes it back."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

from etl_assets.dagster.assets import build_table_assets
from etl_assets.dagster.resources import DatabricksPipelinesResource
from etl_assets.engines.databricks.client import redact
from etl_assets.project.load import load_config
from tests.conftest import scenario
from tests.support.fake_databricks import FAST, failing


def run_storing_logs(tmp_path: Path, selection: str | list[str]):
    home = tmp_path / "dagster_home_secrets"
    home.mkdir()
    instance = DagsterInstance.local_temp(str(home))
    try:
        result = materialize(build_table_assets(load_config(scenario("shop"))), instance=instance,
                             selection=selection, raise_on_error=False,
                             resources={"engine": DatabricksPipelinesResource(**FAST)})
        logs = "\n".join(e.message or "" for e in instance.all_logs(result.run_id))
    finally:
        instance.dispose()
    stored = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in home.rglob("*") if p.is_file())
    return result, logs, stored


@pytest.mark.parametrize("status", [401, 403, 500])
def test_a_refusal_that_echoes_the_authorization_header_shows_no_token(fake, tmp_path, status):
    fake.fail("/updates", status, times=1)
    result, logs, stored = run_storing_logs(tmp_path, "orders_bronze")
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    text = error.message + (error.cause.message if error.cause else "")
    assert "denied for header Bearer ***" in text
    for place in (text, logs, stored):
        assert fake.token not in place


def test_an_event_log_message_carrying_a_token_is_redacted(fake, tmp_path):
    fake.scripts[fake.orders] = failing("orders_silver", f"cannot reach storage with Bearer {fake.token}")
    result, logs, stored = run_storing_logs(tmp_path, ["orders_bronze", "orders_silver"])
    assert not result.success
    assert "cannot reach storage with Bearer ***" in logs
    assert fake.token not in logs and fake.token not in stored


def test_redact_knows_token_shapes_and_held_secrets():
    class Held:
        token = "s3cr3t-value"
        client_secret = None

    text = "tok s3cr3t-value, dapi0123456789abcdef0123456789abcdef, doseABCDEF123456, Basic dXNlcjpwYXNz"
    assert redact(text, Held()) == "tok ***, ***, ***, Basic ***"
