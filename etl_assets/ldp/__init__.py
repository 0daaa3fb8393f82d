"""Portable helpers for transformations: one call, the Databricks feature where it exists
and an equivalent open-source Spark implementation on the local engine.

Which path runs is decided by the pipeline configuration key `etl_assets.engine`
(`databricks` or `local`): the bundle sets the first, the local runner the second. Nothing
here needs Dagster.
"""

from __future__ import annotations

from etl_assets.conventions import ENGINE_CONF, LANDING_CONF, quality_dataset_name
from etl_assets.ldp.cdc import auto_cdc
from etl_assets.ldp.expectations import Rule, materialized_view, table
from etl_assets.ldp.landing import read_landing
from etl_assets.ldp.runtime import engine, landing_path

__all__ = [
    "ENGINE_CONF",
    "LANDING_CONF",
    "Rule",
    "auto_cdc",
    "engine",
    "landing_path",
    "materialized_view",
    "quality_dataset_name",
    "read_landing",
    "table",
]
