"""Data quality rules: `dp.expect*` on Databricks, the same effect locally."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Literal

from pyspark import pipelines as dp
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl_assets.ldp.runtime import engine


@dataclass(frozen=True)
class Rule:
    """A named SQL condition; `warn` keeps failing rows, `drop` drops them, `fail` stops the update."""

    name: str
    condition: str
    action: Literal["warn", "drop", "fail"] = "warn"


def expect_all(rules: Sequence[Rule]) -> Callable[[Callable[[], DataFrame]], Callable[[], DataFrame]]:
    """Decorate a dataset's query function with its rules (place it under `@dp.table`).

    Databricks: `dp.expect_all`, `dp.expect_all_or_drop`, `dp.expect_all_or_fail`. Locally, where
    open-source Spark has no expectations: `drop` rules filter rows out (a null result counts as
    failing, as on Databricks) and a row failing a `fail` rule raises, failing the flow with
    the rule's name.

    >>> @dp.table(name="clean")                                  # doctest: +SKIP
    ... @expect_all([Rule("valid_id", "id IS NOT NULL", "drop")])
    ... def clean(): ...
    """
    by_action = {a: {r.name: r.condition for r in rules if r.action == a} for a in ("warn", "drop", "fail")}

    def decorate(query: Callable[[], DataFrame]) -> Callable[[], DataFrame]:
        if engine() == "databricks":
            for action, decorator in (("warn", dp.expect_all), ("drop", dp.expect_all_or_drop),
                                      ("fail", dp.expect_all_or_fail)):
                if by_action[action]:
                    query = decorator(by_action[action])(query)
            return query

        @wraps(query)
        def local_query() -> DataFrame:
            df = query()
            for name, condition in by_action["fail"].items():
                passed = F.coalesce(F.expr(condition), F.lit(False))
                check = F.when(passed, F.lit(True)).otherwise(
                    F.raise_error(F.lit(f"expectation '{name}' failed ({condition}): the update stops"))
                )
                df = df.where(check)
            for condition in by_action["drop"].values():
                df = df.where(F.coalesce(F.expr(condition), F.lit(False)))
            return df

        return local_query

    return decorate
