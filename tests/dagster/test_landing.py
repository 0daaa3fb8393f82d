"""The landing assets: the example data generator as an asset, exploration checks on the raw
files, and bronze tables depending on them."""

from __future__ import annotations

import pytest
from dagster import AssetKey, AssetSpec, instance_for_test, materialize

from etl_assets.dagster.definitions import build_definitions
from etl_assets.dagster.landing import build_landing_definitions
from etl_assets.errors import ConfigError
from etl_assets.project.load import load_config
from tests.conftest import REPO, local_resource, scenario

SHOP = scenario("shop")
EXAMPLE = REPO / "config.yml"  # the example project: its sources ask for example_data


def test_generator_asset_and_exploration_checks(local_home):
    config = load_config(EXAMPLE)
    assets, checks = build_landing_definitions(config)
    with instance_for_test() as instance:
        result = materialize([*assets, *checks], instance=instance, resources={"engine": local_resource()},
                             run_config={"ops": {"example_data": {"config": {"rows": 300, "seed": 2}}}})
        assert result.success
        files = {e.materialization.asset_key: e.materialization.metadata["rows_written"].value
                 for e in result.get_asset_materialization_events()}
        assert files == {AssetKey("raw_customers"): 300, AssetKey("raw_orders"): 300}
        evaluations = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    assert evaluations[("raw_customers", "row_count")].metadata["rows"].value == 300
    assert evaluations[("raw_customers", "operation_mix")].passed
    assert evaluations[("raw_orders", "null_key_share")].metadata["column"].value == "order_id"
    assert len(evaluations) == 7
    assert (local_home.landing / "customers" / "part-00000.json").exists()


def test_exploration_fails_on_an_empty_landing(local_home):
    from dagster import AssetSelection

    assets, checks = build_landing_definitions(load_config(EXAMPLE))
    with instance_for_test() as instance:
        result = materialize([*assets, *checks], instance=instance, raise_on_error=False,
                             resources={"engine": local_resource()}, selection=AssetSelection.all_asset_checks())
        evaluations = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    assert result.get_asset_materialization_events() == []
    assert not evaluations[("raw_customers", "row_count")].passed
    assert evaluations[("raw_customers", "row_count")].metadata["rows"].value == 0


def test_bronze_tables_depend_on_their_raw_files():
    graph = build_definitions(SHOP).resolve_asset_graph()
    assert graph.get(AssetKey("orders_bronze")).parent_keys == {AssetKey("raw_orders")}
    assert graph.get(AssetKey("raw_customers")).group_name == "landing"


def test_a_projects_own_customers_and_orders_sources_are_external_assets_not_the_generator():
    """The shop scenario reads landing folders named like the example's, without `example_data`:
    its raw files are external assets, and nothing can write fake rows into its landing folder."""
    assets, _ = build_landing_definitions(load_config(SHOP))
    assert all(isinstance(a, AssetSpec) for a in assets)
    assert {a.key for a in assets} == {AssetKey("raw_customers"), AssetKey("raw_orders")}
    graph = build_definitions(SHOP).resolve_asset_graph()
    assert not graph.get(AssetKey("raw_customers")).is_materializable


def test_example_data_only_for_the_generators_datasets(project):
    path = project("""
        tables:
          - {name: raw, layer: bronze, source: {path: invoices, example_data: true}}
    """)
    with pytest.raises(ConfigError, match="example_data generates only the example's customers and orders files"):
        load_config(path)
