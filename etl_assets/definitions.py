"""The Dagster code location: `dagster ... -m etl_assets.definitions`.

Reads config.yml from $ETL_ASSETS_CONFIG or the current folder.
"""

from __future__ import annotations

from etl_assets.dagster.definitions import build_definitions

defs = build_definitions()
