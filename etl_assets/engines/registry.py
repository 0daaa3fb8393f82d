"""The engines by name, for the Dagster side: each engine's class and settings types, the
implementation imported only when an engine is built (pyspark, the databricks-sdk).

The Dagster resources build engines through this module and ask the engine contract
(`etl_assets.engines.base`) everything else, so nothing under `etl_assets.dagster` imports an
engine's implementation.

>>> databricks_traits().name
'databricks'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etl_assets.engines.databricks.settings import DatabricksCredentials, DatabricksSettings, DatabricksTraits

if TYPE_CHECKING:
    from etl_assets.engines.databricks.updates import DatabricksEngine
    from etl_assets.engines.local.engine import LocalEngine


def local_engine_class() -> type[LocalEngine]:
    """The local engine's class (its name, kind and table names without pyspark started)."""
    from etl_assets.engines.local.engine import LocalEngine

    return LocalEngine


def local_engine(**settings: Any) -> LocalEngine:
    """A local engine with `settings` (`home`, `warm_spark`, `lock_timeout_seconds`, `master`, `spark_conf`)."""
    return local_engine_class()(**settings)


def databricks_traits() -> type[DatabricksTraits]:
    """The Databricks engine's traits, known without importing the SDK."""
    return DatabricksTraits


def databricks_engine(**settings: Any) -> DatabricksEngine:
    """A Databricks engine with `settings` (`credentials`, `settings`, `landing_volume`, `warehouse_id`)."""
    from etl_assets.engines.databricks.updates import DatabricksEngine

    return DatabricksEngine(**settings)


__all__ = ["DatabricksCredentials", "DatabricksSettings", "DatabricksTraits", "databricks_engine", "databricks_traits",
           "local_engine", "local_engine_class"]
