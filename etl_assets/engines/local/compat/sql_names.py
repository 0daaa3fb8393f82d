"""Table names inside `spark.sql("...")` text, read as the same names are in code.

Pipeline code may write its reads as SQL text: `spark.sql("SELECT * FROM LIVE.orders")`,
`spark.sql("SELECT * FROM samples.nyctaxi.trips")`, `spark.sql("SELECT * FROM STREAM(x)")`. The
query is rewritten as a SQL source's query is (`etl_assets.translation.sql_queries`): `LIVE.`
dropped, `STREAM x` a `spark.readStream.table`, `read_files(...)` an Auto Loader read,
``delta.`/path` `` (and the other ``format.`path` `` file queries) a `spark.read.format(...).load`, and two-
and three-part names after FROM / JOIN read with `spark.read.table`, where the layer maps them
(pipeline schema, other catalogs, sample folders). The dataflow graph then sees the same
dependencies as for the Python reads. Text with arguments (`args=` or DataFrames), and text
that is no query (`CREATE ...`, `SET ...`), is passed to Spark as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NoReturn

from etl_assets.engines.local.compat.errors import UnsupportedConstructError
from etl_assets.engines.local.compat.names import Names

_QUERY_STARTS = ("SELECT", "WITH", "FROM", "TABLE", "VALUES")


def rewritten(text: str, names: Names) -> tuple[str, dict[str, str]] | None:
    """The query text for Spark and its DataFrame arguments (name -> Python expression over
    `spark`), or None when `text` is no query or has nothing to map."""
    from etl_assets.translation.sql_queries import _NOT_ALIAS, QueryRewriter, _Placeholder
    from etl_assets.translation.sql_text import Token, next_significant, qualified_name, quote_name, tokenize

    tokens = tokenize(text)
    first = next((t for t in tokens if t.significant), None)
    if first is None or not (first.text == "(" or first.is_word(*_QUERY_STARTS)):
        return None

    def fail(message: str, token: Token | None) -> NoReturn:
        raise UnsupportedConstructError(f"spark.sql text {text.strip()[:80]!r}: {message}")

    class Rewriter(QueryRewriter):
        def catalog_table(self, index: int, out: list[str]) -> int | None:
            # Two-part names whose local name differs: `<pipeline schema>.t` is the pipeline's own
            # table locally (others are Spark's own reading; `EXTRACT(YEAR FROM o.day)` stays).
            end, parts = qualified_name(self.tokens, index)
            if self.tokens[end - 1].kind == "quoted" and self.file_query(end, parts, out):
                return end  # delta.`/path`, parquet.`/path`: read with spark.read.format(...).load
            if len(parts) == 2 and names.local(".".join(parts)) != ".".join(parts) \
                    and names.local(".".join(parts)) != "spark_catalog." + ".".join(parts):
                name = f"__table_{len(self.frames)}"
                self.frames[name] = f"spark.read.table({'.'.join(parts)!r})"
                out.append(_Placeholder("{" + name + "}"))
                after = next_significant(self.tokens, end - 1)
                if after is None or self.tokens[after].kind not in ("word", "quoted") \
                        or self.tokens[after].is_word(*_NOT_ALIAS):
                    out.append(" AS " + quote_name(parts[-1]))
                return end
            return super().catalog_table(index, out)

    query, frames = Rewriter(tokens, "spark.sql", fail).rewrite()
    if not frames and query == text:
        return None
    return query, frames


def _configured(spark: Any, text: str) -> str:
    """`text` with each `${key}` replaced by the pipeline configuration value of `key`."""
    def value(match: re.Match[str]) -> str:
        found = spark.conf.get(match.group(1), None)
        if found is None:
            raise UnsupportedConstructError(f"${{{match.group(1)}}} in spark.sql text names no pipeline configuration "
                                            f"value: add {match.group(1)} to the pipeline's configuration")
        return str(found)
    return re.sub(r"\$\{([^}]*)\}", value, text)


def _formattable(query: str, placeholders: Iterable[str]) -> str:
    """`query` for Spark's `str.format` of DataFrame arguments: braces outside the `{name}`
    placeholders (`${...}` in a comment, a JSON string) doubled, so they stay as written."""
    pattern = "(" + "|".join(re.escape("{" + name + "}") for name in placeholders) + ")"
    parts = re.split(pattern, query)
    return "".join(part if i % 2 else part.replace("{", "{{").replace("}", "}}") for i, part in enumerate(parts))


def install(names: Names) -> list[tuple[Any, str, Any]]:
    """Patch the Spark Connect session's `sql`; (class, attribute, original)."""
    from pyspark.sql.connect.session import SparkSession

    original = SparkSession.__dict__["sql"]

    def sql(self: Any, sqlQuery: str, args: Any = None, **kwargs: Any) -> Any:
        if args is not None or kwargs or not isinstance(sqlQuery, str):
            return original(self, sqlQuery, args, **kwargs)
        found = rewritten(sqlQuery, names)
        if found is None:
            return original(self, sqlQuery)
        query, frames = found
        # The expressions are the rewriter's own (reads of quoted names), evaluated over this session.
        namespace = {"spark": self, "_conf": lambda value: _configured(self, value), "__builtins__": {}}
        values = {name: eval(expression, namespace) for name, expression in frames.items()}
        return original(self, _formattable(query, values), **values) if values else original(self, query)

    SparkSession.sql = sql  # type: ignore[method-assign]
    return [(SparkSession, "sql", original)]
