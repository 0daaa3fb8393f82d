"""`withColumn(s)`, `drop` and `withColumn(s)Renamed` that keep a flow's dependencies.

With pyspark 4.3 the Spark Connect planner analyzes the input of these methods eagerly, so a
read of a pipeline dataset below them is resolved against the catalog table the previous run
left: the dataflow graph no longer sees the dependency, and the flow may run before its input
is refreshed (reading old data). The same results are built here from lazily resolved parts:

- `withColumn(s)`: `struct("*").withField(name, value)` then `select("s.*")`: a new column is
  appended, an existing one replaced in place, as `withColumns` does;
- `drop("a", ...)`: `struct("*").dropFields(...)`; names that are not columns are ignored;
- `withColumnRenamed(a, b)` / `withColumnsRenamed`: `struct("*").withField(b, a).dropFields(a)`:
  the same columns, names and values, but the renamed column comes last (no lazily resolved
  expression renames a field in place); renaming a name that is not a column fails at analysis
  (Spark's method ignores it). Names that are not plain identifiers (`count(1)`, `sum(id)`, the
  names an aggregate gives) are quoted with backticks, which `withField` and `dropFields` read
  as one name rather than a path.

Expressions the struct cannot hold (generators such as `explode`), `drop` of Column objects and
names that are not plain identifiers in `withColumn(s)` and `drop` keep Spark's own method.
"""

from __future__ import annotations

import re
from typing import Any

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STRUCT = "__etl_row"
_GENERATORS = {"explode", "explode_outer", "posexplode", "posexplode_outer", "inline", "inline_outer", "stack",
               "json_tuple"}


def _function_names(message: Any) -> set[str]:
    found: set[str] = set()
    for descriptor, value in message.ListFields():
        if descriptor.name == "function_name" and isinstance(value, str):
            found.add(value.lower())
        values = value if descriptor.label == descriptor.LABEL_REPEATED else [value]
        for item in values:
            if hasattr(item, "ListFields"):
                found |= _function_names(item)
    return found


def _plain(name: Any) -> bool:
    """Whether `name` is a column name a struct field path can hold as it is."""
    return isinstance(name, str) and _PLAIN.fullmatch(name) is not None


def _nestable(df: Any, column: Any) -> bool:
    from pyspark.sql.connect.column import Column

    if not isinstance(column, Column):
        return False
    try:
        return not (_function_names(column.to_plan(df._session.client)) & _GENERATORS)
    except Exception:
        return False


def install() -> list[tuple[Any, str, Any]]:
    """Patch the Spark Connect DataFrame; returns (class, attribute, original) for each method."""
    from pyspark.sql import functions as F
    from pyspark.sql.connect.dataframe import DataFrame

    with_columns = DataFrame.withColumns
    with_column = DataFrame.withColumn
    drop = DataFrame.drop
    renamed_many = DataFrame.withColumnsRenamed

    def lazy_with_columns(self: Any, *colsMap: Any) -> Any:
        mapping = colsMap[0] if len(colsMap) == 1 and isinstance(colsMap[0], dict) else None
        if mapping is None or any(not _plain(name) or not _nestable(self, value) for name, value in mapping.items()):
            return with_columns(self, *colsMap)
        row = F.struct("*")
        for name, value in mapping.items():
            row = row.withField(name, value)
        return self.select(row.alias(_STRUCT)).select(f"{_STRUCT}.*")

    def lazy_with_column(self: Any, colName: str, col: Any) -> Any:
        if not _plain(colName) or not _nestable(self, col):
            return with_column(self, colName, col)
        return lazy_with_columns(self, {colName: col})

    def lazy_drop(self: Any, *cols: Any) -> Any:
        if not cols or not all(_plain(c) for c in cols):
            return drop(self, *cols)
        return self.select(F.struct("*").dropFields(*cols).alias(_STRUCT)).select(f"{_STRUCT}.*")

    def lazy_renamed_many(self: Any, colsMap: dict[str, str]) -> Any:
        if not isinstance(colsMap, dict) or any(not isinstance(a, str) or not isinstance(b, str) or not a or not b
                                                for a, b in colsMap.items()):
            return renamed_many(self, colsMap)
        result = self
        for existing, new in colsMap.items():
            if existing != new:
                result = _rename(result, existing, new)
        return result

    def lazy_renamed(self: Any, existing: str, new: str) -> Any:
        return lazy_renamed_many(self, {existing: new})

    patches = [("withColumns", lazy_with_columns), ("withColumn", lazy_with_column), ("drop", lazy_drop),
               ("withColumnRenamed", lazy_renamed), ("withColumnsRenamed", lazy_renamed_many)]
    saved: list[tuple[Any, str, Any]] = []
    for attribute, replacement in patches:
        saved.append((DataFrame, attribute, DataFrame.__dict__[attribute]))
        setattr(DataFrame, attribute, replacement)
    return saved


def _rename(df: Any, existing: str, new: str) -> Any:
    from pyspark.sql import functions as F

    row = F.struct("*")
    renamed = row.withField(_quoted(new), row.getField(existing)).dropFields(_quoted(existing))
    return df.select(renamed.alias(_STRUCT)).select(f"{_STRUCT}.*")


def _quoted(name: str) -> str:
    """A field name as one part of a path (`withField` and `dropFields` parse their names)."""
    return name if _plain(name) else "`" + name.replace("`", "``") + "`"
