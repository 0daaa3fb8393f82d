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
        def get_asset_key(self, table, config):
            return AssetKey(["lakehouse", table.name])

        def get_group_name(self, table, config):
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


def test_overriding_get_asset_spec_moves_keys_deps_and_sensors_with_it(config):
    """`get_asset_spec` is the one place a table becomes an asset: a key changed there is the key
    the dependencies of other tables, the schedules' jobs and the sensors use."""
    from etl_assets.dagster.definitions import build_definitions

    class Lakehouse(TableTranslator):
        def get_asset_spec(self, table, config):
            spec = super().get_asset_spec(table, config)
            return spec.replace_attributes(key=AssetKey(["lakehouse", table.name]))

    defs = build_definitions(config, translator=Lakehouse())
    graph = defs.resolve_asset_graph()
    node = graph.get(AssetKey(["lakehouse", "orders_silver"]))
    assert node.parent_keys == {AssetKey(["lakehouse", "orders_bronze"]), AssetKey(["lakehouse", "customers"])}
    repo = defs.get_repository_def()
    landing = repo.get_sensor_def("landing_files")
    assert AssetKey(["lakehouse", "orders_bronze"]) in landing.asset_selection.resolve(graph)
    weekly = repo.get_job(repo.get_schedule_def("weekly_gold").job_name)
    assert weekly.asset_layer.selected_asset_keys == {AssetKey(["lakehouse", "customers_history_agg"])}
