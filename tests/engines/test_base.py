"""The engine interface: what a refresh request may hold."""

from __future__ import annotations

import pytest

from etl_assets.engines.base import RefreshRequest
from etl_assets.project.load import load_config
from tests.conftest import scenario


def test_a_refresh_of_no_table_is_refused_because_it_would_refresh_the_whole_pipeline():
    config = load_config(scenario("plain"))
    with pytest.raises(ValueError, match="needs at least one table: an empty selection would refresh the whole"):
        RefreshRequest(config, config.pipelines["numbers"], [])
