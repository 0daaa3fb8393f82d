"""The default Dagster code location: `dagster ... -m etl_assets.definitions`.

Reads config.yml from $ETL_ASSETS_CONFIG or the current folder; the engine is local unless
$ETL_ASSETS_ENGINE says databricks (see `etl_assets.dagster.resources.default_engine_resource`).
"""

from __future__ import annotations

from etl_assets.dagster.definitions import build_definitions

defs = build_definitions()
