"""The translator: a subclass changes asset keys, groups and the deps between them."""

from __future__ import annotations

import pytest
from dagster import AssetKey, BetaWarning, Definitions

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


def test_code_references_are_built_without_beta_warnings(config, recwarn):
    """Code references are beta in Dagster: building them must not warn once per table."""
    spec = TableTranslator().get_asset_spec(config.table("orders_silver"), config)
    reference, = spec.metadata["dagster/code_references"].code_references
    assert reference.file_path == str(config.root / "transformations" / "silver" / "orders_silver.py")
    assert reference.label == "transformations/silver/orders_silver.py"
    assert [str(w.message) for w in recwarn.list if issubclass(w.category, BetaWarning)] == []
