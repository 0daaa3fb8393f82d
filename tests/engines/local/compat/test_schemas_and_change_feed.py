"""Pipelines of one project in different schemas reading each other's tables by their
three-part names, a sample table's change feed, and AUTO CDC over a chain of streaming views
(the shapes Lakehouse Plumber generates)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from etl_assets.engines.local.compat.names import NAMESPACES_CONF, Names, parse_namespaces
from etl_assets.engines.local.compat.sql_names import _formattable
from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.runner import LocalRunner, RunOutcome
from etl_assets.engines.local.spec import write_spec
from etl_assets.project.load import load_config

BRONZE = """
    from pyspark import pipelines as dp

    @dp.materialized_view(name="main.sch_bronze.sc_items")
    def sc_items():
        return spark.range(1, 4).withColumnRenamed("id", "item")
    """

SILVER = """
    from pyspark import pipelines as dp

    @dp.materialized_view(name="main.sch_silver.sc_copy")
    def sc_copy():
        # a ${token} and {braces} in a comment stay as written
        return spark.sql(\"\"\"-- ${not_a_token} {x}
            SELECT i.item * 10 AS value FROM main.sch_bronze.sc_items i\"\"\")

    @dp.temporary_view()
    def v_changes():
        return spark.readStream.option("readChangeFeed", "true").table("main.sch_bronze.sc_feed")

    @dp.temporary_view()
    def v_changes_clean():
        return spark.sql("SELECT * FROM stream(v_changes) WHERE _change_type != 'update_preimage'")

    dp.create_streaming_table(name="main.sch_silver.sc_dim")
    dp.create_auto_cdc_flow(target="main.sch_silver.sc_dim", source="v_changes_clean", keys=["id"],
                            sequence_by="_commit_version", stored_as_scd_type=2,
                            except_column_list=["_change_type", "_commit_version", "_commit_timestamp"])

    def next_snapshot(latest):
        table = "main.sch_bronze.sc_snapshots"
        where = "" if latest is None else f" WHERE v > {latest}"
        found = spark.sql(f"SELECT min(v) AS v FROM {table}{where}").collect()[0].v
        if found is None:
            return None
        return spark.sql(f"SELECT * FROM {table} WHERE v = {found}").drop("v"), int(found)

    dp.create_streaming_table(name="main.sch_silver.sc_snap")
    dp.create_auto_cdc_from_snapshot_flow(target="main.sch_silver.sc_snap", source=next_snapshot, keys=["id"],
                                          stored_as_scd_type=2)
    """


def _project(root: Path) -> Path:
    for name, code in (("bronze", BRONZE), ("silver", SILVER)):
        path = root / "src" / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code).lstrip("\n"))
    config = {
        "catalog": "main",
        "pipelines": {"bronze": {"schema": "sch_bronze", "libraries": ["src/bronze.py"]},
                      "silver": {"schema": "sch_silver", "libraries": ["src/silver.py"]}},
        "tables": [
            {"name": "sc_items", "layer": "bronze", "pipeline": "bronze", "file": "src/bronze.py"},
            {"name": "sc_copy", "layer": "silver", "pipeline": "silver", "depends_on": ["sc_items"],
             "file": "src/silver.py"},
            {"name": "sc_dim", "layer": "silver", "pipeline": "silver", "file": "src/silver.py"},
            {"name": "sc_snap", "layer": "silver", "pipeline": "silver", "file": "src/silver.py"},
        ],
    }
    (root / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root / "config.yml"


def test_another_pipelines_schema_names_its_tables_in_the_default_database():
    names = Names(catalog="main", schema="silver", namespaces=frozenset({("main", "bronze"), ("main", "silver")}))
    assert names.local("main.bronze.orders_raw") == "orders_raw"
    assert names.local("bronze.orders_raw") == "orders_raw"
    assert names.local("main.other.t") == "spark_catalog.other.t"
    assert names.local("samples.tpch.nation") == "spark_catalog.samples__tpch.nation"
    assert Names(catalog="main", schema="silver").local("main.bronze.orders_raw") == "spark_catalog.bronze.orders_raw"


def test_the_spec_names_every_pipelines_namespace(tmp_path: Path):
    config = load_config(_project(tmp_path), check_files=False)
    spec = yaml.safe_load(write_spec(config, "silver", LocalHome(tmp_path / "home")).read_text())
    assert parse_namespaces(spec["configuration"][NAMESPACES_CONF]) == {("main", "sch_bronze"), ("main", "sch_silver")}


def test_braces_outside_placeholders_are_kept_for_spark_formatting():
    query = _formattable("-- ${a} {b}\nSELECT * FROM {__table_0}", ["__table_0"])
    assert query.format(__table_0="t") == "-- ${a} {b}\nSELECT * FROM t"


def _run(config: Path, home: LocalHome, pipeline: str) -> RunOutcome:
    loaded = load_config(config, check_files=False)
    items = list(LocalRunner(loaded, home).run(pipeline, [t.name for t in loaded.tables_of(pipeline)], False))
    outcome = items[-1]
    assert isinstance(outcome, RunOutcome)
    assert outcome.returncode == 0 and outcome.run_status == "COMPLETED", "\n".join(outcome.lines[-60:])
    return outcome


def _rows(home: LocalHome, table: str) -> list[dict]:
    return sorted(pq.read_table(home.table_location(table)).to_pylist(), key=lambda r: [str(v) for v in r.values()])


@pytest.mark.slow
def test_pipelines_in_two_schemas_read_each_other_and_a_change_feed_and_snapshots(tmp_path: Path):
    from etl_assets.engines.local.server import stop_warm_spark

    config = _project(tmp_path)
    home = LocalHome(tmp_path / "home")
    samples = home.root / "samples" / "main" / "sch_bronze"
    (samples / "sc_feed").mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2], "name": ["a", "b"]}), samples / "sc_feed" / "part-0.parquet")
    (samples / "sc_snapshots").mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2, 1], "name": ["a", "b", "a2"], "v": [1, 1, 2]}),
                   samples / "sc_snapshots" / "part-0.parquet")
    try:
        _run(config, home, "bronze")
        _run(config, home, "silver")
        assert [r["value"] for r in _rows(home, "sc_copy")] == [10, 20, 30]
        # The sample's change feed: one commit (version 0) inserting every row.
        assert [(r["id"], r["name"], r["__START_AT"], r["__END_AT"]) for r in _rows(home, "sc_dim")] == [
            (1, "a", 0, None), (2, "b", 0, None)]
        # Two snapshots found with collect() in the snapshot function: 2 is gone in the second.
        assert [(r["id"], r["name"], r["__START_AT"], r["__END_AT"]) for r in _rows(home, "sc_snap")] == [
            (1, "a", 1, 2), (1, "a2", 2, None), (2, "b", 1, 2)]
        refused = _no_feed_outcome(tmp_path / "nofeed", home)
        assert refused.returncode != 0
        assert "the local engine has no Delta change data feed" in "\n".join(refused.lines)
    finally:
        stop_warm_spark(home)


def _no_feed_outcome(root: Path, home: LocalHome) -> RunOutcome:
    path = root / "src" / "feed.py"
    path.parent.mkdir(parents=True)
    path.write_text(textwrap.dedent("""
        from pyspark import pipelines as dp

        @dp.table(name="sc_nofeed")
        def sc_nofeed():
            return spark.readStream.option("readChangeFeed", "true").table("main.nowhere.t")
        """))
    (root / "config.yml").write_text(yaml.safe_dump({
        "pipelines": {"feed": {"libraries": ["src/feed.py"]}},
        "tables": [{"name": "sc_nofeed", "layer": "silver", "pipeline": "feed", "file": "src/feed.py"}]}))
    outcome = list(LocalRunner(load_config(root / "config.yml", check_files=False), home).run("feed", ["sc_nofeed"], False))[-1]
    assert isinstance(outcome, RunOutcome)
    return outcome
