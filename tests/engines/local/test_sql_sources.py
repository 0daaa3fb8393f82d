"""SQL pipeline files and Databricks notebooks run on the local engine: the source layer turns them
into pipeline Python, the local engine runs it on real Spark, the tables hold what the SQL says."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.runner import LocalRunner, RunOutcome, stop_warm_spark
from etl_assets.engines.local.tables import read_rows
from etl_assets.project.load import load_config

CONFIG = """
pipelines:
  customers: {name: customers, configuration: {customers.folder: customers}}
  numbers: {name: numbers}
tables:
  - {name: customers_cdc_bronze, layer: bronze, pipeline: customers, file: transformations/customers.sql}
  - {name: customers_cdc_clean, layer: silver, pipeline: customers, file: transformations/customers.sql,
     depends_on: [customers_cdc_bronze]}
  - {name: customers, layer: silver, pipeline: customers, file: transformations/customers.sql,
     depends_on: [customers_cdc_clean]}
  - {name: customers_count, layer: gold, pipeline: customers, file: transformations/customers.sql,
     depends_on: [customers]}
  - {name: numbers, layer: bronze, pipeline: numbers, file: transformations/numbers_notebook.py}
  - {name: numbers_total, layer: gold, pipeline: numbers, file: transformations/numbers_notebook.py,
     depends_on: [numbers]}
"""

CUSTOMERS_SQL = """
-- The CDC tutorial in pipeline SQL: Auto Loader, expectations, AUTO CDC, a materialized view.
CREATE OR REFRESH STREAMING TABLE customers_cdc_bronze
COMMENT 'raw change events'
AS SELECT * FROM STREAM read_files('${etl_assets.landing_path}/${customers.folder}', format => 'json',
  schema => 'id STRING, firstname STRING, email STRING, operation STRING, operation_date STRING',
  rescuedDataColumn => '_rescued_data');

CREATE OR REFRESH STREAMING TABLE customers_cdc_clean (
  CONSTRAINT no_rescued_data EXPECT (_rescued_data IS NULL) ON VIOLATION DROP ROW,
  CONSTRAINT valid_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT valid_operation EXPECT (operation IN ('APPEND', 'DELETE', 'UPDATE')) ON VIOLATION DROP ROW
)
AS SELECT * FROM STREAM(LIVE.customers_cdc_bronze);

CREATE OR REFRESH STREAMING TABLE customers;

APPLY CHANGES INTO LIVE.customers
FROM STREAM(LIVE.customers_cdc_clean)
KEYS (id)
APPLY AS DELETE WHEN operation = 'DELETE'
SEQUENCE BY operation_date
COLUMNS * EXCEPT (operation, operation_date, _rescued_data)
STORED AS SCD TYPE 1;

CREATE OR REFRESH MATERIALIZED VIEW customers_count
AS SELECT count(*) AS n FROM LIVE.customers
"""

NUMBERS_NOTEBOOK = """
# Databricks notebook source
# MAGIC %md
# MAGIC Even numbers and their total.

# COMMAND ----------

# MAGIC %pip install pyyaml

# COMMAND ----------

import dlt


@dlt.table(name="numbers")
@dlt.expect_or_drop("even", "n % 2 = 0")
def numbers():
    return spark.range(10).selectExpr("id AS n")

# COMMAND ----------

# MAGIC %sql
# MAGIC CREATE MATERIALIZED VIEW numbers_total
# MAGIC AS SELECT count(*) AS evens, sum(n) AS total FROM LIVE.numbers
"""


def event(id_: str | None, name: str, operation: str | None, date: str) -> dict[str, str | None]:
    return {"id": id_, "firstname": name, "email": f"{name.lower()}@example.com", "operation": operation,
            "operation_date": date}


FIRST_FILE = [
    event("1", "Ann", "APPEND", "2024-01-01 10:00:00"),
    event("2", "Bob", "APPEND", "2024-01-01 10:00:00"),
    event(None, "Nobody", "APPEND", "2024-01-01 10:00:00"),    # dropped: valid_id
    event("3", "Cat", "MERGE", "2024-01-01 10:00:00"),         # dropped: valid_operation
    event("1", "Anna", "UPDATE", "2024-01-02 10:00:00"),
    event("2", "Bob", "DELETE", "2024-01-03 10:00:00"),
    event("1", "Annie", "UPDATE", "2024-01-01 09:00:00"),      # older than Anna: loses
]
SECOND_FILE = [event("4", "Dan", "APPEND", "2024-01-04 10:00:00")]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, LocalHome]]:
    """One project and one home (one warm Spark server) for the module."""
    root = tmp_path_factory.mktemp("sql_sources")
    (root / "transformations").mkdir()
    (root / "config.yml").write_text(textwrap.dedent(CONFIG).lstrip("\n"))
    (root / "transformations" / "customers.sql").write_text(CUSTOMERS_SQL.lstrip("\n"))
    (root / "transformations" / "numbers_notebook.py").write_text(NUMBERS_NOTEBOOK.lstrip("\n"))
    home = LocalHome(root / "home")
    home.prepare()
    try:
        yield root, home
    finally:
        stop_warm_spark(home)


def run(root: Path, home: LocalHome, pipeline: str, tables: list[str]) -> RunOutcome:
    runner = LocalRunner(load_config(root / "config.yml", check_files=False), home)
    outcome = None
    for item in runner.run(pipeline, tables):
        outcome = item
    assert isinstance(outcome, RunOutcome)
    assert outcome.returncode == 0, outcome.error_text()
    return outcome


def land(home: LocalHome, name: str, rows: list[dict[str, str | None]]) -> None:
    folder = home.landing / "customers"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(row) + "\n" for row in rows))


def rows(home: LocalHome, table: str, *columns: str) -> list[tuple]:
    _, found = read_rows(home.table_location(table))
    return sorted(tuple(row[c] for c in columns) for row in found)


@pytest.mark.slow
def test_a_sql_pipeline_reads_files_drops_bad_rows_and_applies_changes(project):
    root, home = project
    land(home, "part-1.json", FIRST_FILE)
    run(root, home, "customers", ["customers_cdc_bronze", "customers_cdc_clean", "customers", "customers_count"])
    assert len(rows(home, "customers_cdc_bronze", "firstname")) == 7
    assert rows(home, "customers_cdc_clean", "firstname") == [
        ("Ann",), ("Anna",), ("Annie",), ("Bob",), ("Bob",)]
    # Each rule's result per row, as for Python expectations (the engine reports them as checks).
    flags = rows(home, "etl_quality__customers_cdc_clean", "no_rescued_data", "valid_id", "valid_operation")
    assert flags == [(True, False, True), (True, True, False)] + [(True, True, True)] * 5
    # Ann's latest change wins whatever the arrival order; Bob is deleted; change columns are gone.
    columns, customers = read_rows(home.table_location("customers"))
    assert sorted(columns) == ["email", "firstname", "id"]
    assert customers == [{"id": "1", "firstname": "Anna", "email": "anna@example.com"}]
    assert rows(home, "customers_count", "n") == [(1,)]

    # The streaming tables read only the new file on the next update.
    land(home, "part-2.json", SECOND_FILE)
    run(root, home, "customers", ["customers_cdc_bronze", "customers_cdc_clean", "customers", "customers_count"])
    assert len(rows(home, "customers_cdc_bronze", "firstname")) == 8
    assert rows(home, "customers", "id", "firstname") == [("1", "Anna"), ("4", "Dan")]
    assert rows(home, "customers_count", "n") == [(2,)]


@pytest.mark.slow
def test_a_python_notebook_with_a_sql_cell_runs_on_the_local_engine(project):
    root, home = project
    run(root, home, "numbers", ["numbers", "numbers_total"])
    assert rows(home, "numbers", "n") == [(0,), (2,), (4,), (6,), (8,)]
    assert rows(home, "numbers_total", "evens", "total") == [(5, 20)]
