"""Where nothing can answer, the Databricks engine fails in seconds saying what to check; only a
workspace that answers and asks to wait (429, 503) is waited for, within retry_timeout_seconds."""

from __future__ import annotations

import socket
import time

import pytest

from etl_assets.engines.base import RefreshRequest
from etl_assets.engines.databricks.settings import DatabricksSettings
from etl_assets.engines.databricks.updates import DatabricksEngine
from etl_assets.errors import DatabricksApiError
from etl_assets.project.load import load_config
from tests.conftest import scenario
from tests.support.fake_databricks import FAST

SHOP = scenario("shop")
# The SDK alone would retry an unanswered host for this long before failing.
PATIENT = DatabricksSettings(**{**FAST, "retry_timeout_seconds": 120})


def refresh(settings: DatabricksSettings = PATIENT) -> None:
    config = load_config(SHOP)
    request = RefreshRequest(config, config.pipelines["orders"], ["orders_bronze"])
    list(DatabricksEngine(settings=settings).refresh(request))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_host_refusing_the_connection_fails_at_once_with_what_to_check(monkeypatch, tmp_path):
    port = closed_port()
    monkeypatch.setenv("DATABRICKS_HOST", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-not-a-real-token-1234")
    began = time.monotonic()
    with pytest.raises(DatabricksApiError) as raised:
        refresh()
    # Far under the 120 s the SDK would have retried.
    assert time.monotonic() - began < 30
    text = str(raised.value)
    assert f"nothing answers at http://127.0.0.1:{port}" in text and "connection refused" in text
    assert "Check DATABRICKS_HOST" in text and "environment (DATABRICKS_HOST, DATABRICKS_TOKEN" in text
    assert "dapi-not-a-real-token-1234" not in text


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_asked_once_not_retried(fake, status):
    fake.fail("/api/2.0/pipelines", status)
    with pytest.raises(DatabricksApiError) as raised:
        refresh()
    assert "refused the credentials" in str(raised.value)
    assert len(fake.calls(None, "/api/2.0/pipelines")) == 1
    assert fake.calls("POST", "/updates") == []


def test_throttling_is_waited_for_only_within_retry_timeout_seconds(fake):
    fake.fail("/api/2.0/pipelines", 429, times=10_000)
    began = time.monotonic()
    with pytest.raises(DatabricksApiError) as raised:
        refresh(DatabricksSettings(**{**FAST, "retry_timeout_seconds": 2}))
    assert time.monotonic() - began < 30
    assert len(fake.calls(None, "/api/2.0/pipelines")) > 1  # it did wait and ask again
    assert "raise retry_timeout_seconds" in str(raised.value)
    assert fake.calls("POST", "/updates") == []


def materialize_orders_bronze(resource):
    from dagster import instance_for_test, materialize

    from etl_assets.dagster.assets import build_table_assets

    with instance_for_test() as instance:
        return materialize(build_table_assets(load_config(SHOP)), instance=instance, selection="orders_bronze",
                           resources={"engine": resource}, raise_on_error=False)


def test_the_resources_connect_seconds_bounds_the_first_connection(fake, monkeypatch):
    from etl_assets.dagster.resources import DatabricksPipelinesResource, default_engine_resource

    used: list[float | None] = []
    real = socket.create_connection

    def create_connection(address, timeout=None, *args, **kwargs):
        if address[0] == "127.0.0.1" and address[1] == int(fake.url.rsplit(":", 1)[1]):
            used.append(timeout)
        return real(address, timeout, *args, **kwargs)

    # The OS's connection call is watched, not replaced: the engine's own path runs.
    monkeypatch.setattr(socket, "create_connection", create_connection)
    result = materialize_orders_bronze(DatabricksPipelinesResource(**FAST, connect_seconds=3.5))
    assert result.success
    assert used and used[0] == 3.5
    assert DatabricksPipelinesResource().connect_seconds == 10.0
    chosen = default_engine_resource({"ETL_ASSETS_ENGINE": "databricks", "ETL_ASSETS_DATABRICKS_CONNECT_SECONDS": "4"})
    assert chosen.connect_seconds == 4 and chosen.get_engine().settings.connect_seconds == 4


def test_a_host_that_does_not_resolve_fails_the_step_at_once_with_what_to_check(monkeypatch):
    from etl_assets.dagster.resources import DatabricksPipelinesResource

    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, *args, **kwargs):
        # The resolver answers as it does for a name under the reserved .invalid TLD (RFC 6761);
        # every other name goes to the real resolver.
        if isinstance(host, str) and host.endswith(".invalid"):
            asked.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setenv("DATABRICKS_HOST", "https://adb-1234.typo.invalid")
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-not-a-real-token-5678")
    began = time.monotonic()
    result = materialize_orders_bronze(DatabricksPipelinesResource(**{**FAST, "retry_timeout_seconds": 120}))
    assert time.monotonic() - began < 30  # the SDK alone would retry for retry_timeout_seconds
    assert not result.success and asked and set(asked) == {"adb-1234.typo.invalid"}
    error = result.get_step_failure_events()[0].step_failure_data.error
    text = error.message + (error.cause.message if error.cause else "")
    assert "the Databricks host https://adb-1234.typo.invalid" in text and "does not resolve" in text
    assert "Check DATABRICKS_HOST" in text and "DNS" in text and "nothing was started" in text
    assert "dapi-not-a-real-token-5678" not in text
