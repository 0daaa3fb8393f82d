"""The Databricks pipeline API (`import dlt`, `dp.expect*`, ...) on the local engine."""

from __future__ import annotations

import json

import pytest

from etl_assets.engines.local.tables import rule_counts

pytestmark = pytest.mark.slow


def land(pipelines, folder: str, name: str, rows: list[dict]) -> str:
    return str(pipelines.landed(folder, {name: "".join(json.dumps(r) + "\n" for r in rows)}))


def test_dlt_tables_views_and_expectations_in_any_order(pipelines):
    landing = land(pipelines, "api_orders", "1.json", [
        {"id": 1, "amount": 10}, {"id": 2, "amount": -5}, {"id": None, "amount": 7}, {"id": 4, "amount": 3}])
    config = pipelines.project("api", {
        "api_orders_raw": f"""
            import dlt

            @dlt.table(comment="raw orders, streamed")
            @dlt.expect("positive", "amount > 0")
            def api_orders_raw():
                return spark.readStream.format("json").schema("id BIGINT, amount BIGINT").load({landing!r})
            """,
        "api_orders_clean": """
            import dlt
            from pyspark import pipelines as dp

            @dp.expect_or_drop("valid_id", "id IS NOT NULL")
            @dlt.table
            @dlt.expect_all_or_drop({"positive": "amount > 0"})
            def api_orders_clean():
                return dlt.read("api_orders_raw")

            @dlt.view
            def api_big_orders():
                return dlt.read("api_orders_clean").where("amount >= 10")
            """,
        "api_orders_total": """
            import dlt
            from pyspark.sql import functions as F

            @dlt.table
            def api_orders_total():
                return spark.read.table("api_big_orders").agg(F.sum("amount").alias("sum")).withColumnRenamed("sum", "total")
            """,
    }, depends={"api_orders_clean": ["api_orders_raw"], "api_orders_total": ["api_orders_clean"]})
    outcome = pipelines.ok(config)
    assert [r["id"] for r in pipelines.rows("api_orders_raw")] == [1, 2, 4, None]
    # @dlt.table over a batch query is a materialized view; both drop rules apply whatever their order.
    assert [r["id"] for r in pipelines.rows("api_orders_clean")] == [1, 4]
    assert pipelines.rows("api_orders_total") == [{"total": 10}]
    # The per-rule counts are in the companions, which the client added to the selection.
    assert outcome.table_status["etl_quality__api_orders_clean"] == "COMPLETED"
    counts, rows, _ = rule_counts(pipelines.home.table_location("etl_quality__api_orders_clean"), {})
    assert rows == 4 and counts["valid_id"] == (3, 1) and counts["positive"] == (3, 1)
    counts, rows, _ = rule_counts(pipelines.home.table_location("etl_quality__api_orders_raw"), {})
    assert rows == 4 and counts["positive"] == (3, 1)


def test_streaming_table_with_expectations_and_append_flows(pipelines):
    land(pipelines, "api_eu", "1.json", [{"id": 1, "region": "eu"}, {"id": None, "region": "eu"}])
    land(pipelines, "api_us", "1.json", [{"id": 2, "region": "us"}])
    config = pipelines.project("flows", {
        "api_all_orders": """
            import dlt

            landing = spark.conf.get("etl_assets.landing_path")
            dlt.create_streaming_table("api_all_orders", expect_all_or_drop={"valid_id": "id IS NOT NULL"})

            @dlt.append_flow(target="api_all_orders")
            def eu():
                return spark.readStream.format("json").schema("id BIGINT, region STRING").load(landing + "/api_eu")

            @dlt.append_flow(target="api_all_orders")
            def us():
                return spark.readStream.format("json").schema("id BIGINT, region STRING").load(landing + "/api_us")
            """,
    })
    pipelines.ok(config)
    assert [(r["id"], r["region"]) for r in pipelines.rows("api_all_orders")] == [(1, "eu"), (2, "us")]
    counts, rows, _ = rule_counts(pipelines.home.table_location("etl_quality__api_all_orders"), {})
    assert counts["valid_id"] == (2, 1)
    # New files are read once, by their flow.
    land(pipelines, "api_eu", "2.json", [{"id": 3, "region": "eu"}])
    pipelines.ok(config)
    assert [r["id"] for r in pipelines.rows("api_all_orders")] == [1, 2, 3]


def test_a_once_flow_is_refused_with_the_reason(pipelines):
    config = pipelines.project("once", {
        "api_once": """
            import dlt

            dlt.create_streaming_table("api_once")

            @dlt.append_flow(target="api_once", once=True)
            def backfill():
                return spark.range(3)
            """,
    })
    outcome = pipelines.run(config)
    assert outcome.returncode != 0
    assert "append_flow(target='api_once', once=True) is not supported on the local engine" in "\n".join(outcome.lines)


def test_a_failing_expectation_fails_the_run_naming_the_rule(pipelines):
    config = pipelines.project("failing", {
        "api_strict": """
            import dlt

            @dlt.table
            @dlt.expect_or_fail("small", "id < 3")
            def api_strict():
                return spark.range(5)
            """,
    })
    outcome = pipelines.run(config)
    assert outcome.returncode != 0
    assert "expectation 'small' failed" in "\n".join(outcome.lines)


def test_unsupported_arguments_are_refused_by_name(pipelines):
    config = pipelines.project("refused", {
        "api_external": """
            import dlt

            @dlt.table(path="/mnt/elsewhere")
            def api_external():
                return spark.range(1)
            """,
    })
    outcome = pipelines.run(config)
    assert outcome.returncode != 0
    assert "table(path=...) is not supported on the local engine" in "\n".join(outcome.lines)


def test_a_module_beside_the_pipeline_file_is_importable(pipelines):
    # Databricks runs a workspace file with its folder as the current directory, on the Python
    # path: pipeline code imports helper modules kept next to it (`from config import rules`).
    config = pipelines.project("helper_import", {
        "helper_users": """
            from pyspark import pipelines as dp
            from helper_rules import rules

            @dp.materialized_view
            @dp.expect_all_or_drop(rules())
            def helper_users():
                return spark.range(-1, 4, 2)  # -1, 1, 3
            """,
    })
    (config.parent / "transformations" / "silver" / "helper_rules.py").write_text(
        "def rules():\n    return {'positive_id': 'id > 0'}\n")
    pipelines.ok(config, tables=["helper_users"])
    assert [r["id"] for r in pipelines.rows("helper_users")] == [1, 3]


def test_pipeline_settings_set_in_code_are_accepted(pipelines):
    # Databricks pipeline code may set its pipeline settings (`pipelines.*`) with spark.conf.set
    # while it is defined; they have no local meaning. Open-source Spark refuses any session
    # change there (SESSION_MUTATION_IN_DECLARATIVE_PIPELINE).
    config = pipelines.project("pipeline_settings", {
        "settings_users": """
            from pyspark import pipelines as dp

            spark.conf.set("pipelines.incompatibleViewCheck.enabled", "false")

            @dp.materialized_view
            def settings_users():
                return spark.range(1, 3)
            """,
    })
    pipelines.ok(config, tables=["settings_users"])
    assert [r["id"] for r in pipelines.rows("settings_users")] == [1, 2]


def test_running_a_pipeline_dataset_inside_a_query_function_is_refused_with_the_fix(pipelines):
    # Its schema can be asked for (test_analysis.py); its rows do not exist before the run.
    config = pipelines.project("analysis_refused", {
        "analysis_source": """
            from pyspark import pipelines as dp

            @dp.materialized_view
            def analysis_source():
                return spark.range(3)
            """,
        "analysis_count": """
            from pyspark import pipelines as dp

            @dp.materialized_view
            def analysis_count():
                source = spark.read.table("analysis_source")
                return source.limit(source.count())
            """,
    }, depends={"analysis_count": ["analysis_source"]})
    outcome = pipelines.run(config)
    text = "\n".join(outcome.lines)
    assert outcome.returncode != 0
    assert "the query function of 'analysis_count' asks Spark to run a DataFrame" in text
    assert "ATTEMPT_ANALYSIS_IN_PIPELINE_QUERY_FUNCTION" in text and "its rows cannot" in text


def test_a_python_file_failing_while_it_loads_names_its_tables(pipelines):
    config = pipelines.project("load_failure", {"load_broken": """
        from pyspark import pipelines as dp

        SETTINGS = {"threshold": 3}["missing"]

        @dp.materialized_view
        def load_broken():
            return spark.range(SETTINGS)
        """})
    outcome = pipelines.run(config)
    text = "\n".join(outcome.lines)
    assert outcome.returncode != 0
    assert outcome.table_status == {"load_broken": "FAILED"}, outcome.table_status
    assert "load_broken.py failed while loading; the datasets it defines did not run: load_broken" in text
    assert "KeyError: 'missing'" in text


PACKAGE_FILES = {
    "src/taxi_etl/__init__.py": "from . import transformations  # noqa: F401\n",
    "src/taxi_etl/transformations/__init__.py": "from . import taxi_stats  # noqa: F401\n",
    "src/taxi_etl/transformations/taxi_stats.py": (
        "from databricks.sdk.runtime import spark\n"
        "from pyspark import pipelines as dp\n\n\n"
        "@dp.materialized_view\n"
        "def taxi_stats():\n"
        "    return spark.range(4).selectExpr('id % 2 AS zone').groupBy('zone').count()\n"),
}


@pytest.mark.parametrize("with_file", [False, True])
def test_a_package_library_is_imported_as_a_package_and_its_tables_are_found(pipelines, with_file):
    from etl_assets.project.load import load_config

    folder = pipelines.root / f"package_lib_{with_file}"
    for name, text in PACKAGE_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    file = ", file: src/taxi_etl/transformations/taxi_stats.py" if with_file else ""
    config = folder / "config.yml"
    config.write_text("pipelines:\n  taxi: {name: taxi, libraries: [src/taxi_etl/__init__.py]}\n"
                      f"tables:\n  - {{name: taxi_stats, layer: gold, pipeline: taxi{file}}}\n")
    loaded = load_config(config)  # validated: the table is found in the package's module
    assert loaded.relative_transformation_path("taxi_stats") == "src/taxi_etl/transformations/taxi_stats.py"
    assert [p.relative_to(folder).as_posix() for p in loaded.pipeline_files("taxi")] == ["src/taxi_etl/__init__.py"]
    pipelines.ok(config)  # defined once: the module is imported by the package, not loaded again
    assert sorted(r["count"] for r in pipelines.rows("taxi_stats")) == [2, 2]
