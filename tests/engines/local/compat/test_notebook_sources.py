"""SQL files cut into notebook cells, SET, flows without BY NAME and notebook output calls, run
on the local engine as Databricks runs them."""

from __future__ import annotations

import json
import textwrap

import pytest

# A SQL file with notebook cell separators but without the notebook header: each cell is a
# statement although none ends with `;`.
_SQL = """
SET
  spark.source;

-- COMMAND ----------

SET nb.region = west

-- COMMAND ----------

CREATE STREAMING TABLE nb_west AS SELECT * FROM STREAM read_files("${landing}/${nb.region}", format => "json")

-- COMMAND ----------

CREATE STREAMING TABLE nb_east AS SELECT * FROM STREAM read_files("${landing}/east", format => "json")

-- COMMAND ----------

CREATE STREAMING TABLE nb_all

-- COMMAND ----------

CREATE FLOW nb_from_west AS INSERT INTO nb_all SELECT id, name FROM STREAM(nb_west)

-- COMMAND ----------

CREATE FLOW nb_from_east AS INSERT INTO nb_all BY NAME SELECT name, id FROM STREAM(nb_east)
"""

_NOTEBOOK = """
# Databricks notebook source
# MAGIC %md
# MAGIC Customers, counted.

# COMMAND ----------

# MAGIC %python
# MAGIC displayHTML("<iframe src='https://example.com/slides'></iframe>")

# COMMAND ----------

from pyspark import pipelines as dp

display(spark.read.table("nb_all"))


@dp.materialized_view(name="nb_count")
def nb_count():
    counted = spark.read.table("nb_all").groupBy().count()
    display(counted)
    return counted
"""


@pytest.mark.slow
def test_cells_set_flows_and_display_in_a_pipeline(pipelines):
    landing = pipelines.root / "nb_landing"
    for region, records in {"west": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
                            "east": [{"id": 3, "name": "c"}]}.items():
        (landing / region).mkdir(parents=True)
        (landing / region / "part-0.json").write_text("".join(json.dumps(r) + "\n" for r in records))
    folder = pipelines.root / "notebook_project"
    (folder / "transformations").mkdir(parents=True)
    (folder / "transformations" / "customers.sql").write_text(_SQL.lstrip())
    (folder / "transformations" / "report.py").write_text(_NOTEBOOK.lstrip())
    config = folder / "config.yml"
    config.write_text(textwrap.dedent(f"""
        pipelines:
          nb:
            libraries: [transformations/customers.sql, transformations/report.py]
            configuration: {{landing: "{landing}"}}
        tables:
          - {{name: nb_west, layer: bronze, pipeline: nb, file: transformations/customers.sql}}
          - {{name: nb_east, layer: bronze, pipeline: nb, file: transformations/customers.sql}}
          - {{name: nb_all, layer: silver, pipeline: nb, file: transformations/customers.sql}}
          - {{name: nb_count, layer: gold, pipeline: nb, file: transformations/report.py}}
        """).lstrip())
    pipelines.ok(config)
    # read_files without inferColumnTypes reads JSON values as strings, as Auto Loader does.
    assert [(r["id"], r["name"]) for r in pipelines.rows("nb_all")] == [("1", "a"), ("2", "b"), ("3", "c")]
    assert [r["count"] for r in pipelines.rows("nb_count")] == [3]


_PRIVATE = """
CREATE STREAMING TABLE pv_raw AS SELECT * FROM STREAM read_files("${landing}/west", format => "json");

CREATE OR REFRESH TEMPORARY STREAMING TABLE pv_clean (
  CONSTRAINT named EXPECT (name IS NOT NULL) ON VIOLATION DROP ROW
) AS SELECT * FROM STREAM(pv_raw);

CREATE MATERIALIZED VIEW pv_names AS SELECT name FROM pv_clean;
"""


@pytest.mark.slow
def test_a_private_table_outside_the_config_is_refreshed_with_the_tables_reading_it(pipelines):
    landing = pipelines.root / "pv_landing"
    (landing / "west").mkdir(parents=True)
    (landing / "west" / "part-0.json").write_text('{"id": 1, "name": "a"}\n{"id": 2}\n{"id": 3, "name": "c"}\n')
    folder = pipelines.root / "private_project"
    (folder / "transformations").mkdir(parents=True)
    (folder / "transformations" / "names.sql").write_text(_PRIVATE.lstrip())
    config = folder / "config.yml"
    config.write_text(textwrap.dedent(f"""
        pipelines:
          pv:
            libraries: [transformations/names.sql]
            configuration: {{landing: "{landing}"}}
        tables:
          - {{name: pv_raw, layer: bronze, pipeline: pv, file: transformations/names.sql}}
          - {{name: pv_names, layer: silver, pipeline: pv, file: transformations/names.sql}}
        """).lstrip())
    pipelines.ok(config)
    assert [r["name"] for r in pipelines.rows("pv_names")] == ["a", "c"]
