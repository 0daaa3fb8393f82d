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


def test_names_inside_spark_sql_text_are_read_as_in_code(pipelines):
    sample = pipelines.home.root / "samples" / "samples" / "tpch" / "nation"
    sample.mkdir(parents=True)
    (sample / "part-0.json").write_text('{"n_nationkey": 1, "n_name": "FRANCE"}\n{"n_nationkey": 2, "n_name": "PERU"}\n')
    events = pipelines.landed("sqltext_events", {"1.json": '{"id": 1}\n{"id": 2}\n'})
    config = pipelines.project("sql_text_names", {
        "sqltext_nations": """
            import dlt

            @dlt.table
            def sqltext_nations():
                return spark.sql("SELECT n_nationkey, upper(n_name) AS name FROM samples.tpch.nation")
            """,
        "sqltext_events": """
            import dlt

            @dlt.table
            def sqltext_events():
                return spark.readStream.format("json").schema("id BIGINT").load(EVENTS)
            """.replace("EVENTS", repr(str(events))),
        "sqltext_joined": """
            import dlt

            @dlt.table
            def sqltext_joined():
                return spark.sql(
                    "SELECT e.id, n.name FROM STREAM(LIVE.sqltext_events) e JOIN LIVE.sqltext_nations n "
                    "ON e.id = n.n_nationkey")
            """,
    }, depends={"sqltext_joined": ["sqltext_events", "sqltext_nations"]})
    pipelines.ok(config)
    assert pipelines.rows("sqltext_joined") == [{"id": 1, "name": "FRANCE"}, {"id": 2, "name": "PERU"}]


def test_databricks_datasets_and_dbfs_paths_read_local_copies_or_say_where_they_belong(pipelines):
    copy = pipelines.home.root / "databricks-datasets" / "wikipedia" / "clickstream"
    copy.mkdir(parents=True)
    (copy / "part-0.json").write_text('{"n": "1"}\n{"n": ""}\n')
    config = pipelines.project("datasets_paths", {"ds_clicks": """
        import dlt

        @dlt.table
        def ds_clicks():
            return spark.read.json("/databricks-datasets/wikipedia/clickstream/")
        """})
    pipelines.ok(config)
    assert sorted(r["n"] for r in pipelines.rows("ds_clicks")) == ["", "1"]
    missing = pipelines.project("dbfs_missing", {"ds_missing": """
        import dlt

        @dlt.table
        def ds_missing():
            return spark.read.format("csv").load("dbfs:/mnt/raw/sales/*.csv")
        """})
    outcome = pipelines.run(missing)
    text = "\n".join(outcome.lines)
    assert outcome.returncode != 0
    assert f"dbfs:/mnt/raw/sales/*.csv is read from {pipelines.home.root}/dbfs/mnt/raw/sales/*.csv" in text
    assert f"put a copy of them at {pipelines.home.root}/dbfs/mnt/raw/sales" in text


def test_ansi_mode_is_on_as_on_databricks_current_channel_and_configuration_turns_it_off(pipelines):
    # Databricks Runtime 17.0 and above turn ANSI mode on; the pipelines' current channel runs 17.3.
    code = {"ansi_cast": """
        import dlt

        @dlt.table
        def ansi_cast():
            return spark.createDataFrame([("1",), ("",)], "n string").selectExpr("CAST(n AS INT) AS n")
        """}
    config = pipelines.project("ansi_on", code)
    outcome = pipelines.run(config)
    assert outcome.returncode != 0 and "CAST_INVALID_INPUT" in "\n".join(outcome.lines)
    config = pipelines.project("ansi_off", code)
    text = config.read_text().replace("ansi_off: {name: ansi_off}",
                                      "ansi_off: {name: ansi_off, configuration: {spark.sql.ansi.enabled: 'false'}}")
    config.write_text(text)
    pipelines.ok(config)
    assert sorted(pipelines.rows("ansi_cast"), key=str) == [{"n": 1}, {"n": None}]


def test_auto_loader_reads_subfolders_skips_underscore_files_and_gives_file_metadata(pipelines):
    # As a Spark writer leaves them (Lakehouse Plumber's TPC-H sample lands its files so).
    landing = pipelines.landed("al_lineitem", {})
    (landing / "round1").mkdir()
    (landing / "round1" / "part-00000.csv").write_text(
        "l_orderkey,l_quantity,l_shipdate\n1,2.50,2024-01-02\n2,3.00,2024-01-03\n")
    for marker in ("_SUCCESS", "_started_123", "_committed_123"):
        (landing / "round1" / marker).write_text('{"added": ["part-00000.csv"]}\n')
    config = pipelines.project("al_subfolders", {"al_lineitem": """
        from pyspark import pipelines as dp
        from pyspark.sql import functions as F

        HINTS = "l_quantity DECIMAL(15,2), l_shipdate DATE"

        @dp.temporary_view()
        def v_lineitem():
            df = (spark.readStream.format("cloudFiles")
                  .option("cloudFiles.inferColumnTypes", "true").option("csv.header", "true")
                  .option("cloudFiles.format", "csv").option("cloudFiles.schemaHints", HINTS)
                  .load(LANDING))
            return df.withColumn("_source_file_path", F.col("_metadata.file_path"))

        dp.create_streaming_table(name="al_lineitem")

        @dp.append_flow(target="al_lineitem", name="f_lineitem")
        def f_lineitem():
            return spark.readStream.table("v_lineitem")
        """.replace("LANDING", repr(str(landing) + "/"))})
    pipelines.ok(config)
    rows = pipelines.rows("al_lineitem")
    assert [(r["l_orderkey"], str(r["l_quantity"]), str(r["l_shipdate"])) for r in rows] == [
        (1, "2.50", "2024-01-02"), (2, "3.00", "2024-01-03")]
    assert all(r["_source_file_path"].endswith("/round1/part-00000.csv") for r in rows)


def test_auto_loader_keeps_its_inferred_schema_and_reads_new_columns(pipelines):
    landed = pipelines.landed("al_kept", {"1.json": json.dumps({"id": 1, "name": "a"}) + "\n"})
    config = pipelines.project("al_kept", {
        "al_kept_stream": """
            import dlt

            @dlt.table
            def al_kept_stream():
                return (spark.readStream.format("cloudFiles").option("cloudFiles.format", "json")
                        .load(spark.conf.get("etl_assets.landing_path") + "/al_kept"))
            """,
        "al_kept_batch": """
            import dlt

            @dlt.table
            def al_kept_batch():
                return (spark.read.format("cloudFiles").option("cloudFiles.format", "json")
                        .option("cloudFiles.inferColumnTypes", "true")
                        .load(spark.conf.get("etl_assets.landing_path") + "/al_kept"))
            """,
    })
    others = set((pipelines.home.root / "autoloader").glob("*.json"))
    pipelines.ok(config)
    # One kept schema: both read the same files with the same reader options (typing comes after).
    assert len(set((pipelines.home.root / "autoloader").glob("*.json")) - others) == 1
    (landed / "2.json").write_text(json.dumps({"id": 2}) + "\n")
    pipelines.ok(config)
    assert [r["id"] for r in pipelines.rows("al_kept_stream")] == ["1", "2"]
    # A new column in a new file: the schema is inferred again over every file.
    (landed / "3.json").write_text(json.dumps({"id": 3, "email": "c@x"}) + "\n")
    pipelines.ok(config, ["al_kept_batch"])
    # (the table keeps its columns' order and adds the new one)
    assert pipelines.columns("al_kept_batch") == ["id", "name", "_rescued_data", "email"]
    assert sorted((r["id"], r["email"]) for r in pipelines.rows("al_kept_batch")) == [
        (1, None), (2, None), (3, "c@x")]
