"""The engine resources the default code location chooses from the environment."""

from __future__ import annotations

import pytest

from etl_assets.dagster.resources import DatabricksPipelinesResource, LocalPipelinesResource, default_engine_resource
from etl_assets.errors import ConfigError


def test_the_default_code_location_picks_its_engine_from_the_environment():
    assert isinstance(default_engine_resource({}), LocalPipelinesResource)
    assert not default_engine_resource({"ETL_ASSETS_WARM_SPARK": "0"}).warm_spark
    chosen = default_engine_resource({"ETL_ASSETS_ENGINE": "Databricks", "ETL_ASSETS_DATABRICKS_POLL_SECONDS": "7"})
    assert isinstance(chosen, DatabricksPipelinesResource) and chosen.poll_seconds == 7


def test_unknown_engine_name_is_refused():
    with pytest.raises(ConfigError) as info:
        default_engine_resource({"ETL_ASSETS_ENGINE": "snowflake"})
    assert "ETL_ASSETS_ENGINE='snowflake' names no engine" in str(info.value)
