"""Tables a transformation reads by name, from its code: `spark.sql` text (literal, a module
constant, an f-string whose table names are literal), `spark.read.table`, `dlt.read`, SQL
FROM / JOIN; and the dependencies config gets from them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from etl_assets.errors import ConfigError
from etl_assets.project.code import code_facts
from etl_assets.project.load import load_config
from etl_assets.translation.sources import datasets_defined

_PYTHON = '''
import dlt
from pyspark import pipelines as dp

TRIPS = "SELECT * FROM samples.nyctaxi.trips"
catalog = spark.conf.get("catalog")


@dp.materialized_view
def zones():
    return spark.sql("SELECT z.*, n.n_name FROM LIVE.zones_raw z JOIN samples.tpch.nation n ON z.k = n.n_nationkey")


@dp.materialized_view
def trips():
    return spark.sql(TRIPS)


@dlt.table
def by_day(day="2024-01-01"):
    kept = spark.sql(f"SELECT * FROM trips WHERE day > '{day}' UNION ALL SELECT * FROM main.sales.extra")
    other = spark.sql(f"SELECT * FROM {catalog}.sales.trips_archive")
    return kept.join(dlt.read("zones"), "k").join(spark.read.table("ref.rates"), "k").union(other)


@dp.materialized_view
def dynamic():
    query = build()
    return spark.sql(query)
'''


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def test_spark_sql_text_gives_the_tables_it_reads(tmp_path: Path):
    _write(tmp_path, {"reads.py": _PYTHON})
    facts = code_facts(tmp_path / "reads.py")
    assert facts.reads == {
        "zones": ("LIVE.zones_raw", "samples.tpch.nation"),
        "trips": ("samples.nyctaxi.trips",),
        # the f-string's table names are literal; `'{day}'` is a value, not a name
        "by_day": ("trips", "main.sales.extra", "LIVE.zones", "ref.rates"),
    }
    # What is only known at run time gives no read, and says so.
    unresolved = {name: facts.unresolved for name, facts in datasets_defined(tmp_path / "reads.py").items()}
    assert unresolved["by_day"] == ("line 21: {catalog}.sales.trips_archive in spark.sql text, name built at run time",)
    assert unresolved["dynamic"] == ("line 28: spark.sql(query), text built at run time",)
    assert unresolved["zones"] == unresolved["trips"] == ()


def test_sql_sources_give_their_reads_and_flows_count_for_their_target(tmp_path: Path):
    _write(tmp_path, {"silver.sql": """
        CREATE TEMPORARY VIEW recent AS
        WITH last AS (SELECT * FROM STREAM(LIVE.orders_raw)) SELECT l.* FROM last l, ref.days d WHERE l.day = d.day;
        CREATE OR REFRESH STREAMING TABLE orders_all;
        CREATE FLOW east AS INSERT INTO orders_all BY NAME SELECT * FROM STREAM(orders_east);
        CREATE FLOW west AS INSERT INTO orders_all BY NAME SELECT * FROM STREAM(orders_west);
        CREATE OR REFRESH MATERIALIZED VIEW ref_rates AS SELECT * FROM delta.`/Volumes/main/ref/rates`;
        CREATE OR REFRESH STREAMING TABLE customers;
        CREATE FLOW customers_cdc AS AUTO CDC INTO customers FROM STREAM(LIVE.changes) KEYS (id) SEQUENCE BY ts;
        """})
    assert code_facts(tmp_path / "silver.sql").reads == {
        "recent": ("LIVE.orders_raw", "ref.days"),  # the CTE is no table; the comma join is
        "orders_all": ("orders_east", "orders_west"),
        "customers": ("LIVE.changes",),
    }


def test_python_flows_and_auto_cdc_count_for_their_target(tmp_path: Path):
    _write(tmp_path, {"flows.py": """
        from pyspark import pipelines as dp

        dp.create_streaming_table("orders_all")

        @dp.append_flow(target="orders_all")
        def east():
            return spark.readStream.table(f"orders_east")

        dp.create_streaming_table("customers")
        dp.create_auto_cdc_flow(target="customers", source="changes", keys=["id"], sequence_by="ts")
        """})
    assert code_facts(tmp_path / "flows.py").reads == {"orders_all": ("orders_east",), "customers": ("LIVE.changes",)}


_CONFIG = """
pipelines:
  sales: {libraries: ["transformations/**"], catalog: main, schema: sales}
  finance: {libraries: [finance/rates.py], catalog: main, schema: finance}
tables:
  - {name: orders_raw, layer: bronze, pipeline: sales}
  - {name: orders, layer: silver, pipeline: sales}
  - {name: revenue, layer: gold, pipeline: sales, depends_on: [orders]}
  - {name: rates, layer: bronze, pipeline: finance}
"""

_FILES = {
    "transformations/bronze.py": '''
        from pyspark import pipelines as dp

        @dp.table
        def orders_raw():
            return spark.readStream.format("cloudFiles").option("cloudFiles.format", "json").load("/x")
        ''',
    "transformations/silver.py": '''
        from pyspark import pipelines as dp

        @dp.temporary_view
        def orders_clean():
            return spark.sql("SELECT * FROM main.sales.orders_raw WHERE id IS NOT NULL")

        @dp.materialized_view
        def orders():
            return spark.sql("SELECT o.*, r.rate FROM orders_clean o JOIN main.finance.rates r USING (currency)")
        ''',
    "transformations/gold.sql": """
        CREATE OR REFRESH MATERIALIZED VIEW revenue AS SELECT sum(amount * rate) AS total FROM LIVE.orders;
        """,
    "finance/rates.py": '''
        from pyspark import pipelines as dp

        @dp.materialized_view
        def rates():
            return spark.range(3).selectExpr("id AS currency", "1.0 AS rate")
        ''',
}


def test_config_depends_on_what_the_code_reads(tmp_path: Path):
    _write(tmp_path, {**_FILES, "config.yml": _CONFIG})
    config = load_config(tmp_path / "config.yml")
    deps = {t.name: t.depends_on for t in config.tables}
    # through the temporary view to the bronze table; the other pipeline's table by its schema
    assert deps == {"orders_raw": (), "orders": ("orders_raw", "rates"), "revenue": ("orders",), "rates": ()}


def test_the_asset_graph_has_the_dependencies_read_in_code(tmp_path: Path):
    from dagster import AssetKey

    from etl_assets.dagster.assets import build_table_assets

    _write(tmp_path, {**_FILES, "config.yml": _CONFIG})
    deps = {key: set(dep_keys) for asset in build_table_assets(load_config(tmp_path / "config.yml"))
            for key, dep_keys in asset.asset_deps.items()}
    assert deps[AssetKey("orders")] == {AssetKey("orders_raw"), AssetKey("rates")}
    assert deps[AssetKey("revenue")] == {AssetKey("orders")}


def test_a_cycle_through_spark_sql_reads_is_refused(tmp_path: Path):
    files = dict(_FILES)
    files["finance/rates.py"] = '''
        from pyspark import pipelines as dp

        @dp.materialized_view
        def rates():
            return spark.sql("SELECT DISTINCT currency, 1.0 AS rate FROM main.sales.orders")
        '''
    _write(tmp_path, {**files, "config.yml": _CONFIG})
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "config.yml")
    assert "dependency cycle: orders -> rates -> orders" in str(raised.value)
