"""Checks of a table as it is: expectations evaluated over its current rows, without a refresh.

A run that selects only checks (a check's "Execute" in the Dagster UI) must not start an
update: an empty refresh selection means the whole pipeline. Each engine runs the one query
built here on what can read its tables (the warm Spark server, a SQL warehouse) and turns the
row it returns into the same `QualityReported` an update gives, so `check_outcomes` judges both.
The query is portable SQL (no `count_if`): Spark and Databricks SQL run it as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from etl_assets.engines.events import QualityReported
from etl_assets.project.config import Expectation


def quote(*parts: str) -> str:
    """A back-quoted, dot-joined identifier.

    >>> quote("main", "etl", "orders")
    '`main`.`etl`.`orders`'
    """
    return ".".join("`" + p.replace("`", "``") + "`" for p in parts)


def check_query(table_sql: str, expectations: Sequence[Expectation]) -> str:
    """One scan of the table: its rows, then per rule the rows where the condition holds and
    those where it is null (a null counts as failing, as in expectations).

    >>> check_query("`t`", [Expectation(name="ok", condition="x > 0")]).split(", ")[:2]
    ['SELECT count(*)', 'coalesce(sum(CASE WHEN (x > 0) THEN 1 ELSE 0 END)']
    """
    columns = ["count(*)"]
    for e in expectations:
        columns.append(f"coalesce(sum(CASE WHEN ({e.condition}) THEN 1 ELSE 0 END), 0)")
        columns.append(f"coalesce(sum(CASE WHEN ({e.condition}) IS NULL THEN 1 ELSE 0 END), 0)")
    return f"SELECT {', '.join(columns)} FROM {table_sql}"


def quality_from_row(table: str, expectations: Sequence[Expectation], row: Sequence[Any],
                     metadata: dict[str, Any]) -> QualityReported:
    """The `QualityReported` of a `check_query` result row (values may come as strings)."""
    values = [int(v) if v is not None else 0 for v in row]
    rows = values[0]
    counts: dict[str, tuple[int, int]] = {}
    nulls: dict[str, int] = {}
    for i, e in enumerate(expectations):
        passed, null = values[1 + 2 * i], values[2 + 2 * i]
        counts[e.name] = (passed, rows - passed)
        nulls[e.name] = null
    return QualityReported(table, counts, rows_checked=rows, declared_known=True, nulls=nulls, dropped=False,
                           metadata={"evaluated": "the table as it is, without a refresh", "table_rows": rows,
                                     **metadata})
