"""Datasets with data quality rules: `dp.expect*` on Databricks, the same effect locally.

Locally, where open-source Spark has no expectations, a `drop` rule filters rows out (a null
result counts as failing, as on Databricks), a row failing a `fail` rule raises an error
naming the rule, and `warn` keeps rows. The passed/failed counts go to a companion dataset
`etl_quality__<name>` holding one boolean per rule for every row the query produced in the
update; the local engine counts the rows written in each run and reports them to Dagster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from etl_assets.conventions import quality_dataset_name
from etl_assets.ldp.runtime import engine

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


QueryFunction = Callable[[], "DataFrame"]


@dataclass(frozen=True)
class Rule:
    """A named SQL condition; `warn` keeps failing rows, `drop` drops them, `fail` stops the update."""

    name: str
    condition: str
    action: Literal["warn", "drop", "fail"] = "warn"


def table(name: str, *, comment: str | None = None, expectations: Sequence[Rule] = ()) -> Callable[[QueryFunction], None]:
    """`@dp.table` (a streaming table) with data quality rules that work on both engines.

    >>> @table(name="clean", expectations=[Rule("valid_id", "id IS NOT NULL", "drop")])  # doctest: +SKIP
    ... def clean():
    ...     return spark.readStream.table("raw")
    """
    return _dataset(name, comment, expectations, streaming=True)


def materialized_view(
    name: str, *, comment: str | None = None, expectations: Sequence[Rule] = ()
) -> Callable[[QueryFunction], None]:
    """`@dp.materialized_view` with data quality rules that work on both engines."""
    return _dataset(name, comment, expectations, streaming=False)


def _dataset(name: str, comment: str | None, rules: Sequence[Rule], streaming: bool) -> Callable[[QueryFunction], None]:
    from pyspark import pipelines as dp
    define = dp.table if streaming else dp.materialized_view

    def decorate(query: QueryFunction) -> None:
        if engine() == "databricks":
            # The expect_all family exists only in the Databricks runtime's pyspark.pipelines,
            # so open-source pyspark's types do not know it.
            databricks_dp: Any = dp
            for action, expect in (("warn", databricks_dp.expect_all), ("drop", databricks_dp.expect_all_or_drop),
                                   ("fail", databricks_dp.expect_all_or_fail)):
                chosen = {r.name: r.condition for r in rules if r.action == action}
                if chosen:
                    query = expect(chosen)(query)
            define(name=name, comment=comment)(query)
            return
        define(name=name, comment=comment)(lambda: _enforce(query(), rules))
        if rules:
            _define_quality(name, query, rules, streaming)

    return decorate


def _holds(rule: Rule) -> Column:
    from pyspark.sql import functions as F
    return F.coalesce(F.expr(rule.condition), F.lit(False))


def _enforce(df: DataFrame, rules: Sequence[Rule]) -> DataFrame:
    from pyspark.sql import functions as F
    for rule in rules:
        if rule.action == "fail":
            message = F.lit(f"expectation '{rule.name}' failed ({rule.condition}): the update stops")
            df = df.where(F.when(_holds(rule), F.lit(True)).otherwise(F.raise_error(message)))
        elif rule.action == "drop":
            df = df.where(_holds(rule))
    return df


def _define_quality(name: str, query: QueryFunction, rules: Sequence[Rule], streaming: bool) -> None:
    from pyspark import pipelines as dp
    target = quality_dataset_name(name)

    def flags() -> DataFrame:
        return rule_flags(query(), rules)

    comment = f"Per-row results of {name}'s expectations (local engine)"
    if streaming:
        dp.create_streaming_table(name=target, comment=comment)
        dp.append_flow(target=target, name=target)(flags)
    else:
        dp.materialized_view(name=target, comment=comment)(lambda: view_flags(name, query, rules))


def view_flags(name: str, query: QueryFunction, rules: Sequence[Rule]) -> DataFrame:
    """The per-row rule results of a materialized view, without computing its query twice.

    The rows the view kept are the query's rows that pass every `drop` rule: their results are
    read from the view as this update wrote it (each rule is a condition on the view's columns,
    and a `drop` rule holds on each of them). Only the rows a `drop` rule took out come from the
    query again, filtered by the negation of the `drop` rules, which Spark pushes down to the
    query's inputs where it can (a join then sees only those rows). A view without `drop` rules
    reads only itself.
    """
    from functools import reduce

    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    kept = SparkSession.active().read.table(name).select(
        *((F.lit(True) if r.action == "drop" else _holds(r)).alias(r.name) for r in rules))
    drops = [_holds(r) for r in rules if r.action == "drop"]
    if not drops:
        return kept
    dropped = query().where(~reduce(lambda a, b: a & b, drops))
    return kept.unionByName(rule_flags(dropped, rules))


def rule_flags(df: DataFrame, rules: Sequence[Rule]) -> DataFrame:
    """One boolean column per rule, named after it: whether each row of `df` passes it."""
    return df.select(*(_holds(r).alias(r.name) for r in rules))
