"""The asset factory: specs, checks, selection through Dagster's own parser, a run without credentials."""

from __future__ import annotations

import ast

import pytest
from dagster import AssetKey, AssetSelection, instance_for_test, materialize

from etl_assets.dagster.assets import build_table_assets
from etl_assets.dagster.definitions import build_definitions
from etl_assets.dagster.resources import DatabricksPipelinesResource
from etl_assets.project.load import load_config
from tests.conftest import scenario

SHOP = scenario("shop")


@pytest.fixture(scope="module")
def config():
    return load_config(SHOP)


@pytest.fixture(scope="module")
def defs():
    return build_definitions(SHOP)


@pytest.fixture(scope="module")
def asset_graph(defs):
    return defs.resolve_asset_graph()


def spec_of(asset_graph, name: str):
    return asset_graph.get(AssetKey(name))


def test_one_asset_per_table_keyed_by_name(config, asset_graph):
    raw = {AssetKey("raw_customers"), AssetKey("raw_orders")}
    assert asset_graph.get_all_asset_keys() == {AssetKey(t.name) for t in config.tables} | raw


def test_one_subsettable_multi_asset_per_pipeline(config):
    assets = build_table_assets(config)
    assert [a.node_def.name for a in assets] == ["customers_cdc", "orders"]
    assert all(a.can_subset for a in assets)
    assert {k.path[0] for k in assets[1].keys} == {"orders_bronze", "orders_silver", "orders_gold"}


def test_group_is_layer_and_tags_have_empty_values(asset_graph):
    node = spec_of(asset_graph, "customers_cdc_bronze")
    assert node.group_name == "bronze"
    assert {k: v for k, v in node.tags.items() if not k.startswith("dagster/")} == {
        "bronze": "", "daily": "", "hourly": "", "critical": "",
    }
    assert spec_of(asset_graph, "orders_gold").group_name == "gold"


def test_deps_follow_depends_on_across_pipelines(asset_graph):
    assert spec_of(asset_graph, "orders_silver").parent_keys == {AssetKey("orders_bronze"), AssetKey("customers")}
    assert spec_of(asset_graph, "customers_cdc_bronze").parent_keys == {AssetKey("raw_customers")}


def test_description_owners_kinds_and_metadata(asset_graph):
    node = spec_of(asset_graph, "customers")
    assert node.description == "Current state of each customer (SCD type 1)"
    assert list(node.owners) == ["team:data_eng"]
    assert node.kinds == {"spark", "silver"}  # the local engine (the default) runs it on Spark
    metadata = node.metadata
    assert metadata["layer"] == "silver"
    assert metadata["pipeline"] == "customers_cdc"
    assert metadata["pipeline_name"] == "etl_assets_customers_cdc"
    assert metadata["transformation"].value == "transformations/silver/customers.py"
    assert metadata["dagster/table_name"] == "spark_catalog.default.customers"


def test_kinds_and_table_name_follow_the_engine():
    node = build_definitions(SHOP, engine=DatabricksPipelinesResource()).resolve_asset_graph().get(AssetKey("customers"))
    assert node.kinds == {"databricks", "silver"}
    assert node.metadata["dagster/table_name"] == "customers"


def test_code_reference_points_at_the_line_defining_the_dataset(asset_graph):
    reference, = spec_of(asset_graph, "orders_silver").metadata["dagster/code_references"].code_references
    path = SHOP.parent / "transformations" / "silver" / "orders_silver.py"
    assert reference.file_path == str(path)
    assert path.read_text().splitlines()[reference.line_number - 1].lstrip().startswith("@materialized_view(")


def test_code_references_link_to_git_when_a_remote_is_known():
    from etl_assets.dagster.definitions import GitSource

    defs = build_definitions(SHOP, git=GitSource("https://github.com/acme/lake", "main", "tests/scenarios/shop"))
    reference, = defs.resolve_asset_graph().get(AssetKey("orders_silver")).metadata["dagster/code_references"].code_references
    assert reference.url.startswith("https://github.com/acme/lake/tree/main/tests/scenarios/shop/transformations/silver/orders_silver.py#L")


def test_code_version_changes_with_the_file_and_the_helpers_it_imports(tmp_path):
    import shutil

    import etl_assets.project.code as code

    shutil.copytree(SHOP.parent, tmp_path / "shop")
    path = tmp_path / "shop" / "config.yml"
    versions = lambda: {k.path[0]: n.code_version for k, n in  # noqa: E731
                        ((k, build_definitions(path).resolve_asset_graph().get(k)) for k in
                         (AssetKey("orders_silver"), AssetKey("orders_gold")))}
    before = versions()
    assert all(before.values())
    file = tmp_path / "shop" / "transformations" / "silver" / "orders_silver.py"
    file.write_text(file.read_text() + "\n# a change\n")
    after = versions()
    assert after["orders_silver"] != before["orders_silver"]
    assert after["orders_gold"] == before["orders_gold"]
    # The helper modules it imports count too (through the package's own imports).
    helpers = code._helper_closure(code._imported_helpers(ast.parse("from etl_assets.ldp import table"), ""))
    assert {"etl_assets.ldp", "etl_assets.ldp.expectations", "etl_assets.ldp.runtime", "etl_assets.conventions"} <= helpers


def test_expectations_become_asset_checks(asset_graph):
    checks = {(k.asset_key.path[0], k.name) for k in asset_graph.asset_check_keys
              if not k.asset_key.path[0].startswith("raw_")}
    assert checks == {
        ("customers_cdc_clean", "no_rescued_data"),
        ("customers_cdc_clean", "valid_id"),
        ("customers_cdc_clean", "valid_operation"),
        ("orders_silver", "valid_order_id"),
        ("orders_silver", "positive_amount"),
    }


def test_fail_expectations_are_blocking_checks(project):
    config = load_config(project("""
        tables:
          - name: raw
            layer: bronze
            expectations:
              - {name: must, condition: id IS NOT NULL, action: fail}
              - {name: may, condition: x > 0}
    """))
    specs = {s.name: s for s in build_table_assets(config)[0].check_specs}
    assert specs["must"].blocking and not specs["may"].blocking
    assert specs["may"].metadata["action"] == "warn"


def names(keys) -> set[str]:
    return {k.path[-1] for k in keys}


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("tag:daily", {"customers_cdc_bronze", "customers_cdc_clean", "customers", "customers_history",
                       "orders_bronze", "orders_silver", "orders_gold"}),
        ("tag:daily and tag:critical", {"customers_cdc_bronze", "customers_cdc_clean", "customers",
                                        "orders_bronze", "orders_silver"}),
        ("tag:weekly or tag:hourly", {"customers_history_agg", "customers_cdc_bronze", "customers_cdc_clean",
                                      "orders_bronze", "orders_silver"}),
        ("group:gold", {"customers_history_agg", "orders_gold"}),
        ("tag:daily and not tag:critical", {"customers_history", "orders_gold"}),
    ],
)
def test_selection_through_dagsters_parser(asset_graph, config, selection, expected):
    assert names(AssetSelection.from_string(selection).resolve(asset_graph)) == expected
    if selection.startswith("tag:daily and tag:critical"):
        from etl_assets.project.graph import TableGraph

        assert set(TableGraph(config).select_by_tags(["daily", "critical"], "all")) == expected


def test_databricks_engine_without_credentials_fails_clearly_and_records_nothing(config):
    assets = build_table_assets(config)
    with instance_for_test() as instance:
        result = materialize(assets, selection="tag:daily and tag:critical", instance=instance, raise_on_error=False,
                             resources={"engine": DatabricksPipelinesResource()})
        logs = [e.message for e in instance.all_logs(result.run_id) if e.message]
        assert not result.success
        assert result.get_asset_materialization_events() == []
        failure = result.get_step_failure_events()[0]
        assert "no Databricks credentials" in failure.step_failure_data.error.cause.message
        assert any("refresh of 3 table(s): customers_cdc_bronze, customers_cdc_clean, customers" in m for m in logs)
