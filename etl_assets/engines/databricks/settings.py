"""Credentials and timing bounds of the Databricks engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from etl_assets.errors import ConfigError, ConfigProblem
from etl_assets.project.config import ProjectConfig


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError([ConfigProblem("environment", None, f"{name}={raw!r} is not a number of seconds")]) from None
    if value < 0:
        raise ConfigError([ConfigProblem("environment", None, f"{name}={raw!r} must not be negative")])
    return value


class DatabricksTraits:
    """The Databricks engine as known without the SDK (imported only when it runs)."""

    name: ClassVar[str] = "databricks"
    kind: ClassVar[str] = "databricks"
    runs_continuous: ClassVar[bool] = True
    has_local_landing: ClassVar[bool] = False
    nothing_observed: ClassVar[str] = "no update started outside Dagster has refreshed tables since the last tick"

    @classmethod
    def table_name(cls, config: ProjectConfig, table: str) -> str:
        """The table's name as the deployed pipeline publishes it: `catalog.schema.table` when
        config.yml names both (the pipeline's own, else the project's), else the bare name."""
        pipeline = config.table(table).pipeline if table in config.table_names else None
        catalog = config.catalog_of(pipeline) if pipeline else config.catalog
        schema = config.schema_of(pipeline) if pipeline else config.schema
        return f"{catalog}.{schema}.{table}" if catalog and schema else table


@dataclass(frozen=True)
class DatabricksCredentials:
    """Explicit credentials; each None field is left to the SDK's default chain (environment
    variables such as DATABRICKS_HOST / DATABRICKS_TOKEN, then the config profile)."""

    host: str | None = None
    token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    profile: str | None = None

    def as_sdk_config(self) -> dict[str, str | None]:
        """Keyword arguments of `databricks.sdk.core.Config`."""
        return {"host": self.host, "token": self.token, "client_id": self.client_id,
                "client_secret": self.client_secret, "profile": self.profile}

    def __repr__(self) -> str:  # never show a secret, even in a traceback
        shown = {k: ("***" if k in ("token", "client_secret") and v else v) for k, v in self.as_sdk_config().items()}
        return f"DatabricksCredentials({', '.join(f'{k}={v!r}' for k, v in shown.items() if v)})"


@dataclass(frozen=True)
class DatabricksSettings:
    """How often to poll, how long to wait for an active update, how long the SDK retries.

    `connect_seconds` bounds the one connection made to the host before the first request: a
    host that does not resolve, refuses the connection or does not accept it within that time
    fails at once, instead of after the SDK's `retry_timeout_seconds` of retries.

    `unknown_state_seconds` bounds how long an update may answer without a state the engine
    knows (the field missing, or a state it cannot read): past it the step fails saying the
    update's end is unknown, instead of polling for ever.
    """

    poll_seconds: float = 2.0
    max_poll_seconds: float = 15.0
    wait_active_seconds: float = 1800.0
    retry_timeout_seconds: float = 120.0
    reconnect_seconds: float = 300.0
    connect_seconds: float = 10.0
    unknown_state_seconds: float = 600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DatabricksSettings:
        """ETL_ASSETS_DATABRICKS_{POLL,MAX_POLL,WAIT_ACTIVE,RETRY_TIMEOUT,RECONNECT,CONNECT,UNKNOWN_STATE}_SECONDS
        of `environ` (the caller passes `os.environ` where a code location or command is made)."""
        prefix = "ETL_ASSETS_DATABRICKS_"
        return cls(
            poll_seconds=_seconds(environ, f"{prefix}POLL_SECONDS", cls.poll_seconds),
            max_poll_seconds=_seconds(environ, f"{prefix}MAX_POLL_SECONDS", cls.max_poll_seconds),
            wait_active_seconds=_seconds(environ, f"{prefix}WAIT_ACTIVE_SECONDS", cls.wait_active_seconds),
            retry_timeout_seconds=_seconds(environ, f"{prefix}RETRY_TIMEOUT_SECONDS", cls.retry_timeout_seconds),
            reconnect_seconds=_seconds(environ, f"{prefix}RECONNECT_SECONDS", cls.reconnect_seconds),
            connect_seconds=_seconds(environ, f"{prefix}CONNECT_SECONDS", cls.connect_seconds),
            unknown_state_seconds=_seconds(environ, f"{prefix}UNKNOWN_STATE_SECONDS", cls.unknown_state_seconds),
        )
