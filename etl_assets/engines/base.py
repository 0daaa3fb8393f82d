"""Which engine runs the pipelines: chosen by $ETL_ASSETS_ENGINE, local by default."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from etl_assets.project.config import Pipeline, ProjectConfig
from etl_assets.errors import EngineUnavailableError

ENGINE_ENV_VAR = "ETL_ASSETS_ENGINE"
ENGINE_NAMES = ("local", "databricks")
DEFAULT_ENGINE = "local"


@dataclass(frozen=True)
class RefreshRequest:
    """One pipeline update: the tables to refresh (config order) and whether fully."""

    config: ProjectConfig
    pipeline: Pipeline
    tables: Sequence[str]
    full_refresh: bool = False
    asset_keys: Mapping[str, Any] = field(default_factory=dict)  # table name -> Dagster AssetKey


class Engine(Protocol):
    """Runs one pipeline update and yields Dagster results as tables finish."""

    name: str

    def refresh(self, request: RefreshRequest, context: Any) -> Iterator[Any]: ...


def selected_engine_name(name: str | None = None) -> str:
    """The engine named by `name` or $ETL_ASSETS_ENGINE (default: local), checked."""
    name = (name or os.environ.get(ENGINE_ENV_VAR, DEFAULT_ENGINE)).strip().lower() or DEFAULT_ENGINE
    if name not in ENGINE_NAMES:
        raise EngineUnavailableError(
            f"{ENGINE_ENV_VAR}={name!r} names no engine; set it to one of: {', '.join(ENGINE_NAMES)}"
        )
    return name


def get_engine(name: str | None = None) -> Engine:
    """The engine to run updates with: local (Spark Declarative Pipelines) or databricks."""
    if selected_engine_name(name) == "local":
        from etl_assets.engines.local.engine import LocalEngine

        return LocalEngine()
    from etl_assets.engines.databricks.updates import DatabricksEngine

    return DatabricksEngine()
