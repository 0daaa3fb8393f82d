"""Transformation sources of every kind: what the local engine runs for them, and what they
define, read statically (no Spark)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from etl_assets.translation.sources import SourceError, datasets_defined, python_source, source_kind

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def facts(path: Path) -> dict[str, tuple]:
    return {name: (f.line, f.kind, f.private, [(e.name, e.condition, e.action) for e in f.expectations])
            for name, f in datasets_defined(path).items()}


PY_NOTEBOOK = """
    # Databricks notebook source
    # MAGIC %md
    # MAGIC # Customers
    # MAGIC Bronze and silver.

    # COMMAND ----------

    # MAGIC %md-sandbox
    # MAGIC <b>Installs</b>

    # COMMAND ----------

    # MAGIC %pip install pyyaml sqlglot>=20

    # COMMAND ----------

    dbutils.library.restartPython()

    # COMMAND ----------

    import dlt

    @dlt.table(name="raw")
    @dlt.expect_or_drop("valid_id", "id IS NOT NULL")
    def raw():
        return spark.readStream.format("cloudFiles").option("cloudFiles.format", "json").load("/x")

    # COMMAND ----------

    # MAGIC %sql
    # MAGIC CREATE MATERIALIZED VIEW totals (
    # MAGIC   CONSTRAINT positive EXPECT (n > 0) ON VIOLATION FAIL UPDATE
    # MAGIC ) AS SELECT count(*) AS n FROM LIVE.raw
"""

SQL_NOTEBOOK = """
    -- Databricks notebook source
    -- MAGIC %md
    -- MAGIC Orders, cleaned.

    -- COMMAND ----------

    SET spark.sql.shuffle.partitions = 2

    -- COMMAND ----------

    CREATE OR REFRESH STREAMING TABLE orders_clean (
      CONSTRAINT valid_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW
    )
    AS SELECT * FROM STREAM(LIVE.orders_raw)

    -- COMMAND ----------

    -- MAGIC %python
    -- MAGIC from pyspark import pipelines as dp
    -- MAGIC
    -- MAGIC @dp.materialized_view
    -- MAGIC def orders_by_day():
    -- MAGIC     return spark.read.table("orders_clean").groupBy("day").count()

    -- COMMAND ----------

    CREATE MATERIALIZED VIEW orders_total AS SELECT count(*) AS n FROM orders_clean
"""


def test_the_kind_of_a_source_comes_from_its_first_line_and_extension(tmp_path):
    assert source_kind(write(tmp_path, "a.py", "x = 1\n")) == "python"
    assert source_kind(write(tmp_path, "b.sql", "CREATE VIEW v AS SELECT 1\n")) == "sql"
    assert source_kind(write(tmp_path, "c.py", PY_NOTEBOOK)) == "python_notebook"
    assert source_kind(write(tmp_path, "d.sql", SQL_NOTEBOOK)) == "sql_notebook"
    # Exported notebooks may carry no extension at all.
    assert source_kind(write(tmp_path, "e", SQL_NOTEBOOK)) == "sql_notebook"
    with pytest.raises(SourceError, match=r"f\.ipynb: a Jupyter notebook \(\.ipynb\) cannot be read as a pipeline "
                       r"source: export it from Databricks as a source file"):
        datasets_defined(write(tmp_path, "f.ipynb", '{"cells": []}'))


def test_a_python_file_runs_as_written(tmp_path):
    text = "from pyspark import pipelines as dp\n\n@dp.materialized_view\ndef t():\n    return spark.range(1)\n"
    assert python_source(write(tmp_path, "t.py", text)) == text


def test_a_python_notebook_runs_its_code_cells_on_their_own_lines(tmp_path):
    path = write(tmp_path, "nb.py", PY_NOTEBOOK)
    code = python_source(path)
    compile(code, str(path), "exec")
    source_lines = path.read_text().split("\n")
    lines = code.split("\n")
    assert len(lines) == len(source_lines)
    for number, line in enumerate(source_lines):
        if line.startswith(("import dlt", "@dlt", "def raw", "    return")):
            assert lines[number] == line
    # Markdown, magic and separator lines are gone; the restart (installs are checked) runs nothing.
    assert not any(line.startswith("# MAGIC") or "Customers" in line for line in lines)
    assert not any("COMMAND" in line or "notebook source" in line for line in lines)
    assert lines[source_lines.index("dbutils.library.restartPython()")].startswith("pass")
    assert lines[source_lines.index("# MAGIC %pip install pyyaml sqlglot>=20")] == (
        "# %pip install pyyaml sqlglot>=20: already installed in the project environment")
    # The %sql cell is translated where it stands, after the prelude on its magic line.
    sql_line = source_lines.index("# MAGIC CREATE MATERIALIZED VIEW totals (")
    assert lines[sql_line - 1].startswith("from pyspark import pipelines as dp;")
    statement = ast.parse(code).body[-1]
    assert statement.lineno == sql_line + 1
    assert ast.unparse(statement).startswith("dp.materialized_view(name='totals')(dp.expect_or_fail('positive', 'n > 0')")


def test_a_pip_cell_names_the_package_missing_from_the_project_environment(tmp_path):
    path = write(tmp_path, "nb.py", PY_NOTEBOOK.replace("pyyaml", "pyyaml no-such-package-for-etl-assets==1.0"))
    with pytest.raises(SourceError) as raised:
        python_source(path)
    assert raised.value.line == 13
    assert "package 'no-such-package-for-etl-assets'" in str(raised.value)
    assert "install it there (pip install no-such-package-for-etl-assets==1.0)" in str(raised.value)
    # Static facts do not depend on the environment.
    assert set(datasets_defined(path)) == {"raw", "totals"}


def test_run_and_other_magics_are_refused_with_their_line(tmp_path):
    run = write(tmp_path, "run.py", PY_NOTEBOOK.replace("# MAGIC %pip install pyyaml sqlglot>=20",
                                                         "# MAGIC %run ./shared/setup"))
    with pytest.raises(SourceError, match=r"run\.py:13: `%run \./shared/setup` runs another notebook"):
        python_source(run)
    shell = write(tmp_path, "sh.py", PY_NOTEBOOK.replace("# MAGIC %pip install pyyaml sqlglot>=20",
                                                          "# MAGIC %sh ls /dbfs"))
    with pytest.raises(SourceError, match=r"sh\.py:13: %sh cells cannot run in a pipeline"):
        python_source(shell)


def test_a_sql_notebook_is_translated_cell_by_cell_with_python_cells_kept(tmp_path):
    path = write(tmp_path, "nb.sql", SQL_NOTEBOOK)
    code = python_source(path)
    compile(code, str(path), "exec")
    source_lines = path.read_text().split("\n")
    lines = code.split("\n")
    assert len(lines) == len(source_lines)
    assert lines[0].startswith("from pyspark import pipelines as dp;")
    # Statements without `;` end with their cell; SET carries into the next cells.
    clean = lines[source_lines.index("CREATE OR REFRESH STREAMING TABLE orders_clean (")]
    assert clean.startswith("dp.table(name='orders_clean', spark_conf={'spark.sql.shuffle.partitions': '2'})"
                            "(dp.expect_or_drop('valid_id', 'id IS NOT NULL')(lambda: _sql(")
    assert "FROM {__stream_0} AS orders_raw', __stream_0=spark.readStream.table('orders_raw')" in clean
    assert lines[source_lines.index("-- MAGIC def orders_by_day():")] == "def orders_by_day():"
    total = lines[source_lines.index("CREATE MATERIALIZED VIEW orders_total AS SELECT count(*) AS n FROM orders_clean")]
    assert total.startswith("dp.materialized_view(name='orders_total'")


def test_a_sql_notebook_error_points_at_the_notebook_line(tmp_path):
    path = write(tmp_path, "nb.sql", SQL_NOTEBOOK.replace("AS SELECT count(*) AS n FROM orders_clean",
                                                          "AS SELECT count(*) AS n FROM orders_clean;\nSELECT 1"))
    with pytest.raises(SourceError) as raised:
        python_source(path)
    assert raised.value.line == len(path.read_text().rstrip("\n").split("\n"))


def test_a_sql_file_runs_as_its_translation(tmp_path):
    path = write(tmp_path, "t.sql", "CREATE MATERIALIZED VIEW t AS SELECT 1 AS one;\n")
    code = python_source(path)
    assert code.split("\n")[0].endswith("; dp.materialized_view(name='t')(lambda: _sql('SELECT 1 AS one'))")


def test_a_sql_file_with_cell_separators_but_no_notebook_header_has_one_statement_a_cell(tmp_path):
    path = write(tmp_path, "bronze.sql", """
        CREATE STREAMING TABLE events AS SELECT * FROM cloud_files("/landing/events", "csv")

        -- COMMAND ----------

        CREATE STREAMING TABLE orders AS SELECT * FROM cloud_files("/landing/orders", "json")
    """)
    assert source_kind(path) == "sql"
    assert facts(path) == {"events": (1, "streaming_table", False, []), "orders": (5, "streaming_table", False, [])}
    compile(python_source(path), str(path), "exec")


def test_python_datasets_with_their_kinds_and_expectations(tmp_path):
    path = write(tmp_path, "t.py", """
        import dlt
        from pyspark import pipelines as dp

        RULES = {"valid_id": "id IS NOT NULL", "valid_op": "op IN ('A', 'D')"}
        STRICT = RULES

        @dlt.table(name="bronze", comment="raw")
        @dlt.expect("has_email", "email IS NOT NULL")
        @dlt.expect_all_or_drop(STRICT)
        def bronze():
            return spark.readStream.table("landing")

        @dp.expect_or_fail("positive", "n > 0")
        @dp.materialized_view
        def totals():
            return spark.read.table("bronze").groupBy().count()

        @dlt.table
        def batch_table():
            return spark.read.table("bronze")

        @dlt.view
        def recent():
            return spark.sql("SELECT * FROM STREAM(bronze)")

        @dp.temporary_view(name="tmp")
        def anything():
            return spark.range(1)

        @dp.materialized_view(name="hidden", private=True)
        def hidden_one():
            return spark.range(1)

        dp.create_streaming_table("customers", expect_all_or_drop={"key": "id IS NOT NULL"})
        dp.create_auto_cdc_flow(target="customers", source="bronze", keys=["id"], sequence_by="ts")
        dlt.create_target_table(name="old_style")
        dlt.apply_changes(target="old_target", source="bronze", keys=["id"], sequence_by="ts")

        dp.materialized_view(name="called")(dp.expect_all({"a": "x > 1"})(lambda: spark.range(1)))
    """)
    assert facts(path) == {
        "bronze": (7, "streaming_table", False, [("has_email", "email IS NOT NULL", "warn"),
                                                 ("valid_id", "id IS NOT NULL", "drop"),
                                                 ("valid_op", "op IN ('A', 'D')", "drop")]),
        "totals": (14, "materialized_view", False, [("positive", "n > 0", "fail")]),
        "batch_table": (18, "materialized_view", False, []),
        "recent": (22, "temporary_view", False, []),
        "tmp": (26, "temporary_view", False, []),
        "hidden": (30, "materialized_view", True, []),
        "customers": (34, "streaming_table", False, [("key", "id IS NOT NULL", "drop")]),
        "old_style": (36, "streaming_table", False, []),
        "old_target": (37, "streaming_table", False, []),
        "called": (39, "materialized_view", False, [("a", "x > 1", "warn")]),
    }


def test_etl_assets_ldp_datasets_and_rules(tmp_path):
    path = write(tmp_path, "t.py", """
        from etl_assets.ldp import Rule, auto_cdc, materialized_view, table

        CLEAN_RULES = [Rule("valid_id", "id IS NOT NULL", "drop"), Rule(name="known", condition="op IS NOT NULL")]

        @table(name="clean", expectations=CLEAN_RULES)
        def clean():
            return spark.read.table("raw")

        @materialized_view(name="agg", expectations=[Rule("positive", "n > 0", action="fail")])
        def agg():
            return spark.read.table("clean").groupBy().count()

        auto_cdc(target="customers", source="clean", keys=["id"], sequence_by="ts")
    """)
    assert facts(path) == {
        "clean": (5, "streaming_table", False, [("valid_id", "id IS NOT NULL", "drop"),
                                                ("known", "op IS NOT NULL", "warn")]),
        "agg": (9, "materialized_view", False, [("positive", "n > 0", "fail")]),
        "customers": (13, "streaming_table", False, []),
    }


def test_notebook_datasets_come_from_python_and_sql_cells_with_notebook_lines(tmp_path):
    assert facts(write(tmp_path, "nb.py", PY_NOTEBOOK)) == {
        "raw": (23, "streaming_table", False, [("valid_id", "id IS NOT NULL", "drop")]),
        "totals": (31, "materialized_view", False, [("positive", "n > 0", "fail")]),
    }
    assert facts(write(tmp_path, "nb.sql", SQL_NOTEBOOK)) == {
        "orders_clean": (11, "streaming_table", False, [("valid_id", "id IS NOT NULL", "drop")]),
        "orders_by_day": (21, "materialized_view", False, []),
        "orders_total": (27, "materialized_view", False, []),
    }


def test_every_table_of_the_repository_projects_is_found_at_the_line_that_defines_it():
    from etl_assets.project.load import load_config

    configs = [REPO / "config.yml", *sorted(REPO.glob("tests/scenarios/*/config.yml"))]
    checked = 0
    for config_path in configs:
        try:
            config = load_config(config_path, check_files=False)
        except Exception:  # scenarios of invalid configs
            continue
        for table in config.tables:
            path = config.transformation_path(table)
            if not path.is_file():
                continue
            found = datasets_defined(path)
            assert table.name in found, (path, table.name, found)
            line = path.read_text().split("\n")[found[table.name].line - 1]
            assert line.lstrip().startswith(("@", "CREATE ")) or "(" in line, (path, line)
            checked += 1
    assert checked > 10


PIP_INSIDE_A_CELL = """
    # Databricks notebook source
    import json

    %pip install pyyaml
    if True:
        %pip install pyyaml==6.*
    from pyspark import pipelines as dp

    @dp.materialized_view
    def pip_inside():
        return spark.range(1)
    """


def test_a_pip_line_inside_a_python_cell_is_checked_and_kept_out_of_the_code(tmp_path):
    path = write(tmp_path, "runner.py", PIP_INSIDE_A_CELL)
    code = python_source(path)
    ast.parse(code)  # no Python syntax error
    lines = code.split("\n")
    assert lines[3] == "pass  # %pip install pyyaml: already installed in the project environment"
    assert lines[5] == "    pass  # %pip install pyyaml==6.*: already installed in the project environment"
    assert set(datasets_defined(path)) == {"pip_inside"}
    missing = write(tmp_path, "missing.py", PIP_INSIDE_A_CELL.replace("pyyaml==6.*", "no-such-package-for-etl-assets"))
    with pytest.raises(SourceError, match=r"missing\.py:6: package 'no-such-package-for-etl-assets'"):
        python_source(missing)
    shell = write(tmp_path, "shell.py", PIP_INSIDE_A_CELL.replace("%pip install pyyaml\n", "%sh ls /dbfs\n"))
    with pytest.raises(SourceError, match=r"shell\.py:4: the line magic `%sh` inside a Python cell cannot run"):
        python_source(shell)
