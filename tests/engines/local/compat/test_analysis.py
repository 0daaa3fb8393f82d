"""What Databricks gives query functions: `df.columns`, `df.schema`, `df.dtypes`, `df.printSchema()`
of datasets and tables, and `databricks.sdk.runtime` (`spark`, `dbutils`, `display`)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_schemas_of_upstream_datasets_and_tables_inside_query_functions_on_the_first_run(pipelines):
    # A table of the catalog, made by another pipeline before.
    other = pipelines.project("analysis_catalog", {"analysis_rates": """
        from pyspark import pipelines as dp

        @dp.materialized_view
        def analysis_rates():
            return spark.createDataFrame([("EUR", 1.1), ("USD", 1.0)], "currency string, rate double")
        """})
    pipelines.ok(other)
    events = str(pipelines.landed("analysis_events", {"1.json": '{"id": 1, "noise": "n"}\n'}))
    # Files load in name order: the readers (a_*) come before the datasets they read (z_*),
    # whose tables do not exist yet on this first run.
    config = pipelines.project("analysis_shapes", {
        "a_picked": """
            from pyspark import pipelines as dp

            @dp.materialized_view
            def a_picked():
                source = spark.read.table("z_source")
                wanted = [c for c in source.columns if not c.startswith("_")]
                types = dict(source.dtypes)
                source.printSchema()
                assert types["amount"] == "bigint", types
                return source.select(*wanted)
            """,
        "b_streamed": """
            from pyspark import pipelines as dp

            @dp.table
            def b_streamed():
                events = spark.readStream.table("z_events")
                names = [f.name for f in events.schema.fields]
                return events.select(*[c for c in names if c != "noise"])
            """,
        "c_sql_and_catalog": """
            from pyspark import pipelines as dp
            from pyspark.sql import functions as F

            @dp.materialized_view
            def c_sql_and_catalog():
                joined = spark.sql("SELECT id, amount FROM z_source")
                rates = spark.read.table("analysis_rates")
                assert rates.columns == ["currency", "rate"], rates.columns
                return joined.select(*joined.columns, F.lit(len(rates.columns)).alias("rate_columns"))
            """,
        "z_source": """
            from pyspark import pipelines as dp

            @dp.materialized_view
            def z_source():
                return spark.range(3).selectExpr("id", "id * 10 AS amount", "'x' AS _internal")
            """,
        "z_events": """
            from pyspark import pipelines as dp

            dp.create_streaming_table("z_events")

            @dp.append_flow(target="z_events")
            def z_events_files():
                return spark.readStream.format("json").schema("id BIGINT, noise STRING").load(EVENTS)
            """.replace("EVENTS", repr(events)),
    }, depends={"a_picked": ["z_source"], "b_streamed": ["z_events"], "c_sql_and_catalog": ["z_source"]})
    outcome = pipelines.ok(config)
    assert " |-- amount: long (nullable = " in "\n".join(outcome.lines)
    assert pipelines.columns("a_picked") == ["id", "amount"]
    assert [r["amount"] for r in pipelines.rows("a_picked")] == [0, 10, 20]
    assert pipelines.columns("b_streamed") == ["id"]
    assert pipelines.columns("c_sql_and_catalog") == ["id", "amount", "rate_columns"]
    assert {r["rate_columns"] for r in pipelines.rows("c_sql_and_catalog")} == {2}
    # The second run reads the same schemas (now also in the catalog).
    pipelines.ok(config)
    assert pipelines.columns("a_picked") == ["id", "amount"]


def test_datasets_whose_schemas_need_each_other_are_refused_by_name(pipelines):
    config = pipelines.project("analysis_cycle", {
        "cycle_a": """
            from pyspark import pipelines as dp

            @dp.materialized_view
            def cycle_a():
                other = spark.read.table("cycle_b")
                return other.select(*other.columns)
            """,
        "cycle_b": """
            from pyspark import pipelines as dp

            @dp.materialized_view
            def cycle_b():
                other = spark.read.table("cycle_a")
                return other.select(*other.columns)
            """,
    })
    outcome = pipelines.run(config)
    text = "\n".join(outcome.lines)
    assert outcome.returncode != 0
    assert "the schemas of cycle_a -> cycle_b -> cycle_a depend on each other while the pipeline is defined" in text


def test_databricks_sdk_runtime_gives_spark_dbutils_and_display_without_credentials(pipelines):
    # The bundle templates' way to get `spark`; away from a workspace the SDK's own module needs
    # workspace credentials. DDL strings (createDataFrame) inside a query function too.
    pipelines.landed("runtime_files", {"a.json": '{"n": 1}\n'})
    config = pipelines.project("sdk_runtime", {"runtime_numbers": """
        from databricks.sdk.runtime import dbutils, display, spark
        from pyspark import pipelines as dp
        from pyspark.sql import functions as F

        display("nothing to show in a pipeline update")
        LANDING = spark.conf.get("etl_assets.landing_path")
        FILES = [f.name for f in dbutils.fs.ls(LANDING + "/runtime_files")]

        @dp.materialized_view
        def runtime_numbers():
            extra = spark.createDataFrame([("b", 2)], "name string, n int")
            assert extra.columns == ["name", "n"], extra.columns
            return extra.select(F.upper("name").alias("name"), "n").unionByName(
                spark.createDataFrame([(FILES[0], 1)], "name string, n int"))
        """})
    pipelines.ok(config)
    assert pipelines.rows("runtime_numbers") == [{"name": "B", "n": 2}, {"name": "a.json", "n": 1}]


def test_runtime_names_without_a_local_meaning_are_refused_with_the_reason(pipelines):
    config = pipelines.project("sdk_runtime_sc", {"runtime_sc": """
        from databricks.sdk.runtime import sc
        from pyspark import pipelines as dp

        @dp.materialized_view
        def runtime_sc():
            return spark.range(sc.defaultParallelism)
        """})
    outcome = pipelines.run(config)
    assert outcome.returncode != 0
    assert "databricks.sdk.runtime.sc is not available on the local engine" in "\n".join(outcome.lines)
