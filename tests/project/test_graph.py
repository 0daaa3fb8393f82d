"""Stages, tag selection, closures and pipeline order."""

from __future__ import annotations

import pytest

from etl_assets.project.graph import TableGraph, find_cycles, topological_levels
from etl_assets.project.load import load_config
from tests.conftest import scenario

SEED_EXAMPLE = """
    tables:
      - {name: customers_bronze, layer: bronze, tags: [daily, critical]}
      - {name: customers_silver, layer: silver, tags: [daily], depends_on: [customers_bronze]}
      - {name: orders_bronze, layer: bronze, tags: [daily, critical, hourly]}
      - {name: orders_silver, layer: silver, tags: [daily, critical],
         depends_on: [orders_bronze, customers_silver]}
"""


@pytest.fixture
def seed_graph(project) -> TableGraph:
    return TableGraph(load_config(project(SEED_EXAMPLE)))


@pytest.fixture
def shop() -> TableGraph:
    return TableGraph(load_config(scenario("shop")))


def test_seed_dependency_example_stages(seed_graph):
    assert seed_graph.stages() == [
        ["customers_bronze", "orders_bronze"],
        ["customers_silver"],
        ["orders_silver"],
    ]


def test_stages_of_a_selection_keep_order_through_unselected_tables(seed_graph):
    # orders_silver waits for customers_bronze through customers_silver, unselected here.
    assert seed_graph.stages(["orders_silver", "customers_bronze"]) == [["customers_bronze"], ["orders_silver"]]


def test_tags_all_is_and(seed_graph):
    assert seed_graph.select_by_tags(["daily", "critical"], "all") == [
        "customers_bronze", "orders_bronze", "orders_silver",
    ]


def test_tags_any_is_or(seed_graph):
    assert seed_graph.select_by_tags(["hourly", "critical"], "any") == [
        "customers_bronze", "orders_bronze", "orders_silver",
    ]
    assert seed_graph.select_by_tags(["hourly"], "any") == ["orders_bronze"]
    assert seed_graph.select_by_tags(["nope"], "any") == []


def test_closures(seed_graph):
    assert seed_graph.upstream_closure(["orders_silver"]) == [
        "customers_bronze", "customers_silver", "orders_bronze", "orders_silver",
    ]
    assert seed_graph.downstream_closure(["customers_bronze"]) == [
        "customers_bronze", "customers_silver", "orders_silver",
    ]


def test_shop_daily_critical_plan(shop):
    selected = shop.select_by_tags(["daily", "critical"], "all")
    assert shop.stages(selected) == [
        ["customers_cdc_bronze", "orders_bronze"],
        ["customers_cdc_clean"],
        ["customers"],
        ["orders_silver"],
    ]
    assert shop.updates(selected) == [
        ("customers_cdc", ["customers_cdc_bronze", "customers_cdc_clean", "customers"]),
        ("orders", ["orders_bronze", "orders_silver"]),
    ]


def test_shop_pipelines_run_in_dependency_order(shop):
    assert shop.pipeline_edges() == {"customers_cdc": [], "orders": ["customers_cdc"]}
    assert shop.pipeline_order() == ["customers_cdc", "orders"]


def test_execution_order_is_topological(shop):
    order = shop.execution_order()
    for name in order:
        for up in shop.upstream[name]:
            assert order.index(up) < order.index(name)


def test_find_cycles_reports_each_component_once():
    edges = {"a": ["a"], "b": ["c"], "c": ["d", "b"], "d": ["b"], "e": []}
    assert find_cycles(["a", "b", "c", "d", "e"], edges) == [["a", "a"], ["b", "c", "b"]]


def test_deep_chains_do_not_hit_the_recursion_limit():
    names = [f"t{i}" for i in range(5000)]
    edges = {names[i]: [names[i - 1]] for i in range(1, 5000)}
    assert find_cycles(names, edges) == []
    assert topological_levels(names, edges)["t4999"] == 4999
