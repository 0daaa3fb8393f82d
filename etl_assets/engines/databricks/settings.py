"""Timing bounds of the Databricks engine, from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from etl_assets.errors import EtlAssetsError


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise EtlAssetsError(f"{name}={raw!r} is not a number of seconds") from None
    if value < 0:
        raise EtlAssetsError(f"{name}={raw!r} must not be negative")
    return value


@dataclass(frozen=True)
class DatabricksSettings:
    """How often to poll, how long to wait for an active update, how long the SDK retries."""

    poll_seconds: float = 2.0
    max_poll_seconds: float = 15.0
    wait_active_seconds: float = 1800.0
    retry_timeout_seconds: float = 120.0
    reconnect_seconds: float = 300.0

    @classmethod
    def from_env(cls) -> DatabricksSettings:
        """ETL_ASSETS_DATABRICKS_{POLL,MAX_POLL,WAIT_ACTIVE,RETRY_TIMEOUT,RECONNECT}_SECONDS."""
        prefix = "ETL_ASSETS_DATABRICKS_"
        return cls(
            poll_seconds=_seconds(f"{prefix}POLL_SECONDS", cls.poll_seconds),
            max_poll_seconds=_seconds(f"{prefix}MAX_POLL_SECONDS", cls.max_poll_seconds),
            wait_active_seconds=_seconds(f"{prefix}WAIT_ACTIVE_SECONDS", cls.wait_active_seconds),
            retry_timeout_seconds=_seconds(f"{prefix}RETRY_TIMEOUT_SECONDS", cls.retry_timeout_seconds),
            reconnect_seconds=_seconds(f"{prefix}RECONNECT_SECONDS", cls.reconnect_seconds),
        )
