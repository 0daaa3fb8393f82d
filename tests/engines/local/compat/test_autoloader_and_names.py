"""Auto Loader (`cloudFiles`) and Databricks table names on the local engine."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_cloud_files_infers_hints_and_rescues(pipelines):
    pipelines.landed("al_customers", {"1.json": "\n".join(json.dumps(r) for r in [
        {"id": 1, "name": "a", "score": 1.5}, {"id": "not a number", "name": "b", "score": 2.0}]) + "\n"
        + '{"id": 3, "na\n'})  # a truncated line: rescued, and no `_corrupt_record` column appears
    config = pipelines.project("al", {
        "al_bronze": """
            import dlt

            @dlt.table
            def al_bronze():
                return (spark.readStream.format("cloudFiles")
                        .option("cloudFiles.format", "json")
                        .option("cloudFiles.schemaLocation", "/tmp/unused/schema")
                        .option("cloudFiles.schemaHints", "id BIGINT")
                        .load(spark.conf.get("etl_assets.landing_path") + "/al_customers"))
            """,
        "al_batch": """
            import dlt

            @dlt.table
            def al_batch():
                return (spark.read.format("cloudFiles").option("cloudFiles.format", "json")
                        .option("cloudFiles.inferColumnTypes", "true")
                        .option("rescuedDataColumn", "_bad")
                        .load(spark.conf.get("etl_assets.landing_path") + "/al_customers"))
            """,
    })
    pipelines.ok(config)
    # Untyped inference gives strings, the hint a BIGINT, and the default rescue column comes last.
    assert pipelines.columns("al_bronze") == ["id", "name", "score", "_rescued_data"]
    rows = pipelines.rows("al_bronze")
    assert rows[0] == {"id": 1, "name": "a", "score": "1.5", "_rescued_data": None}
    rescued = sorted(r["_rescued_data"] for r in rows if r["id"] is None)
    assert len(rows) == 3 and "not a number" in rescued[0] and rescued[1] == '{"id": 3, "na'
    # inferColumnTypes: JSON types as Spark infers them (id is a string in one record).
    batch = pipelines.rows("al_batch")
    assert pipelines.columns("al_batch") == ["id", "name", "score", "_bad"]
    assert sorted(r["score"] for r in batch if r["score"] is not None) == [1.5, 2.0]
    assert len(batch) == 3


def test_unknown_auto_loader_options_are_refused(pipelines):
    config = pipelines.project("al_refused", {
        "al_refused": """
            import dlt

            @dlt.table
            def al_refused():
                return (spark.readStream.format("cloudFiles").option("cloudFiles.format", "json")
                        .option("cloudFiles.includeExistingFiles", "false").load("/tmp/nowhere"))
            """,
    })
    outcome = pipelines.run(config)
    assert outcome.returncode != 0
    assert "cloudFiles.includeExistingFiles=false cannot be honoured locally" in "\n".join(outcome.lines)


def test_three_part_names_and_samples(pipelines):
    sample = pipelines.home.root / "samples" / "samples" / "nyctaxi" / "trips"
    sample.mkdir(parents=True)
    (sample / "part-0.json").write_text('{"trip": 1, "fare": 10.0}\n{"trip": 2, "fare": 5.5}\n')
    config = pipelines.project("names", {
        "nm_trips": """
            import dlt

            @dlt.table(name="default.nm_trips")
            def trips():
                return spark.read.table("samples.nyctaxi.trips")
            """,
        "nm_fares": """
            import dlt

            @dlt.table(name="main.finance.nm_fares")
            def fares():
                return dlt.read("spark_catalog.default.nm_trips").select("fare")
            """,
        "nm_total": """
            import dlt
            from pyspark.sql import functions as F

            @dlt.table(name="sales.nm_total")
            def total():
                return spark.read.table("main.finance.nm_fares").agg(F.sum("fare").alias("total"))
            """,
    }, depends={"nm_fares": ["nm_trips"], "nm_total": ["nm_fares"]})
    # The selection names config tables; the client finds them in their databases.
    pipelines.ok(config)
    assert [r["trip"] for r in pipelines.rows("nm_trips")] == [1, 2]
    assert sorted(r["fare"] for r in pipelines.rows("nm_fares", database="main__finance")) == [5.5, 10.0]
    assert [r["total"] for r in pipelines.rows("nm_total", database="sales")] == [15.5]


def test_names_map_onto_local_databases(tmp_path):
    from etl_assets.engines.local.compat.names import Names

    names = Names(catalog="main", schema="sales", home=tmp_path)
    assert names.local("orders") == "orders"
    assert names.local("main.sales.orders") == "orders"
    assert names.local("sales.orders") == "orders"
    assert names.local("`main`.`sales`.`or.ders`") == "or.ders"
    assert names.local("main.finance.rates") == "spark_catalog.finance.rates"
    assert names.local("finance.rates") == "spark_catalog.finance.rates"
    assert names.local("other.finance.rates") == "spark_catalog.other__finance.rates"
    assert names.local("hive_metastore.default.rates") == "rates"
    assert names.sample("samples.nyctaxi.trips") is None
    (tmp_path / "samples" / "samples" / "nyctaxi" / "trips").mkdir(parents=True)
    assert names.sample("samples.nyctaxi.trips") == tmp_path / "samples" / "samples" / "nyctaxi" / "trips"
    with pytest.raises(ValueError, match="at most three"):
        names.local("a.b.c.d")


def test_an_expectation_on_the_rescued_data_column_alone(pipelines):
    # The quality companion reads only `_rescued_data`: Spark's JSON source refuses a query
    # whose only column is the corrupt record column unless the layer keeps another one read.
    pipelines.landed("al_rescue_only", {"1.json": '{"id": 1}\n{"id": 2}\n{"id": 3, "x\n'})
    config = pipelines.project("al_rescue_only", {
        "al_rescue_only": """
            from pyspark import pipelines as dp

            @dp.table
            @dp.expect("correct schema", "_rescued_data IS NULL")
            def al_rescue_only():
                return (spark.readStream.format("cloudFiles").option("cloudFiles.format", "json")
                        .option("cloudFiles.inferColumnTypes", "true")
                        .load(spark.conf.get("etl_assets.landing_path") + "/al_rescue_only"))
            """,
    })
    pipelines.ok(config)
    rows = pipelines.rows("al_rescue_only")
    assert [(r["id"], r["_rescued_data"]) for r in rows] == [(1, None), (2, None), (None, '{"id": 3, "x')]
    flags = pipelines.rows("etl_quality__al_rescue_only")
    assert sorted(r["correct schema"] for r in flags) == [False, True, True]


def test_csv_files_have_a_header_when_auto_loader_infers_the_schema(pipelines):
    # Databricks' Auto Loader options: `header` defaults to false, but "Auto Loader assumes that
    # files have headers when inferring the schema". With a schema given, the default stays.
    pipelines.landed("al_csv", {"1.csv": "id,city,amount\n1,Paris,2.5\n2,Lyon,4\n"})
    config = pipelines.project("al_csv", {
        "al_csv_inferred": """
            from pyspark import pipelines as dp

            @dp.table
            def al_csv_inferred():
                return (spark.readStream.format("cloudFiles").option("cloudFiles.format", "csv")
                        .option("cloudFiles.inferColumnTypes", "true")
                        .load(spark.conf.get("etl_assets.landing_path") + "/al_csv"))
            """,
        "al_csv_given": """
            from pyspark import pipelines as dp

            @dp.table
            def al_csv_given():
                return (spark.readStream.format("cloudFiles").option("cloudFiles.format", "csv")
                        .schema("a STRING, b STRING, c STRING")
                        .load(spark.conf.get("etl_assets.landing_path") + "/al_csv"))
            """,
        "al_csv_no_header": """
            from pyspark import pipelines as dp

            @dp.table
            def al_csv_no_header():
                return (spark.readStream.format("cloudFiles").option("cloudFiles.format", "csv")
                        .option("header", "false")
                        .load(spark.conf.get("etl_assets.landing_path") + "/al_csv"))
            """,
    })
    pipelines.ok(config)
    assert pipelines.columns("al_csv_inferred") == ["id", "city", "amount", "_rescued_data"]
    assert sorted((r["id"], r["city"], r["amount"]) for r in pipelines.rows("al_csv_inferred")) == [
        (1, "Paris", 2.5), (2, "Lyon", 4.0)]
    assert sorted(r["a"] for r in pipelines.rows("al_csv_given")) == ["1", "2", "id"]
    assert pipelines.columns("al_csv_no_header") == ["_c0", "_c1", "_c2", "_rescued_data"]
    assert len(pipelines.rows("al_csv_no_header")) == 3
