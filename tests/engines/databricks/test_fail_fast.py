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
