"""The translator: a subclass changes asset keys, groups and the deps between them."""

from __future__ import annotations

import pytest
from dagster import AssetKey, Definitions

from etl_assets.dagster.assets import build_table_assets
from etl_assets.dagster.resources import LocalPipelinesResource
from etl_assets.dagster.translator import TableTranslator
from etl_assets.project.load import load_config
from tests.conftest import scenario


@pytest.fixture(scope="module")
def config():
    return load_config(scenario("shop"))


def test_translator_subclass_changes_keys_and_deps(config):
    class Prefixed(TableTranslator):
        def get_asset_key(self, table):
            return AssetKey(["lakehouse", table.name])

        def get_group_name(self, table):
            return f"medallion_{table.layer}"

    graph = Definitions(assets=build_table_assets(config, Prefixed()),
                        resources={"engine": LocalPipelinesResource()}).resolve_asset_graph()
    node = graph.get(AssetKey(["lakehouse", "orders_silver"]))
    assert node.parent_keys == {AssetKey(["lakehouse", "orders_bronze"]), AssetKey(["lakehouse", "customers"])}
    assert node.group_name == "medallion_silver"
