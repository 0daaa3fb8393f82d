"""Queries of pipeline SQL rewritten for `spark.sql`: `LIVE.` dropped, streams and `read_files` /
`cloud_files` turned into DataFrame arguments (`spark.readStream.table`, Auto Loader readers), so
the query's plan shows what it reads without being analyzed."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NoReturn

from etl_assets.translation.sql_text import (
    Token,
    closing,
    next_significant,
    qualified_name,
    quote_name,
    split_commas,
    string_value,
)

# Data sources whose files a query names as ``format.`path` ``.
FILE_FORMATS = ("delta", "parquet", "json", "csv", "orc", "text", "avro", "binaryfile")

# Auto Loader options that read_files names without the `cloudFiles.` prefix.
_AUTO_LOADER_OPTIONS = {
    "format", "schemahints", "infercolumntypes", "schemaevolutionmode", "schemalocation",
    "maxfilespertrigger", "maxbytespertrigger", "includeexistingfiles", "usenotifications",
    "allowoverwrites", "backfillinterval", "partitioncolumns", "validateoptions",
    "useincrementallisting", "cleansource", "maxfileage", "usestrictglobber",
}


class QueryRewriter:
    """Pipeline-only syntax of one query rewritten for Spark: LIVE., STREAM x, read_files, cloud_files."""

    def __init__(self, tokens: list[Token], path: str, fail: Callable[[str, Token | None], NoReturn]):
        self.tokens = tokens
        self.path = path
        self.fail = fail
        self.frames: dict[str, str] = {}

    def rewrite(self) -> tuple[str, dict[str, str]]:
        """The query text for `spark.sql` and its DataFrame arguments (name -> Python expression)."""
        out: list[str] = []
        tokens = self.tokens
        i = 0
        while i < len(tokens):
            token = tokens[i]
            nxt = next_significant(tokens, i)
            if token.is_word("LIVE") and nxt is not None and tokens[nxt].text == "." \
                    and not (out and out[-1] == "."):
                i = nxt + 1
                continue
            if token.is_word("READ_FILES", "CLOUD_FILES") and nxt is not None and tokens[nxt].text == "(":
                i = self.files(token, nxt, out)
                continue
            if token.is_word("STREAM") and nxt is not None and _after_from(out):
                end = self.stream(nxt, out)
                if end is not None:
                    i = end
                    continue
            if token.kind in ("word", "quoted") and not token.is_word("STREAM") and _after_from(out):
                end = self.catalog_table(i, out)
                if end is not None:
                    i = end
                    continue
            out.append(token.text)
            i += 1
        # With DataFrame arguments spark.sql formats the text: its own braces are doubled.
        text = "".join(part if isinstance(part, _Placeholder) or not self.frames else _escape_braces(part)
                       for part in out)
        return text, self.frames

    def stream(self, index: int, out: list[str]) -> int | None:
        """`STREAM name`, `STREAM(name)`: the table read as a stream, `spark.readStream.table`, passed
        to spark.sql as a DataFrame (so the query is seen to stream without being analyzed); the
        index after it, or None when STREAM is followed by something else (read_files)."""
        tokens = self.tokens
        start = index
        wrapped = tokens[index].text == "("
        if wrapped:
            inner = next_significant(tokens, index)
            if inner is None:
                return None
            start = inner
        if tokens[start].kind not in ("word", "quoted") or tokens[start].is_word("READ_FILES", "CLOUD_FILES"):
            return None
        end, parts = qualified_name(tokens, start)
        quoted_last = tokens[end - 1].kind == "quoted"
        if wrapped:
            closing = next_significant(tokens, end - 1)
            if closing is None or tokens[closing].text != ")":
                self.fail("STREAM( takes one table name and a closing )", tokens[start])
            end = closing + 1
        if quoted_last and self.file_query(end, parts, out, streaming=True):
            return end
        name = f"__stream_{len(self.frames)}"
        self.frames[name] = f"spark.readStream.table({'.'.join(quote_name(p) for p in parts)!r})"
        out.append(_Placeholder("{" + name + "}"))
        after = next_significant(tokens, end - 1)
        aliased = after is not None and tokens[after].kind in ("word", "quoted") and not tokens[after].is_word(*_NOT_ALIAS)
        if not aliased:
            out.append(" AS " + quote_name(parts[-1]))  # keeps `name.column` working in the query
        return end

    def catalog_table(self, index: int, out: list[str]) -> int | None:
        """A three-part name `catalog.schema.table` read after FROM or JOIN: `spark.read.table`,
        passed to spark.sql as a DataFrame, so the table reads as the same name does in Python
        (on the local engine, another catalog's tables and `samples.*` are not in the session's
        catalog); the index after it, or None for a shorter name, left to Spark."""
        end, parts = qualified_name(self.tokens, index)
        after = next_significant(self.tokens, end - 1)
        if after is not None and self.tokens[after].text == "(":
            return None
        if self.tokens[end - 1].kind == "quoted" and self.file_query(end, parts, out):
            return end
        if len(parts) != 3:
            return None
        name = f"__table_{len(self.frames)}"
        self.frames[name] = f"spark.read.table({'.'.join(quote_name(p) for p in parts)!r})"
        out.append(_Placeholder("{" + name + "}"))
        aliased = after is not None and self.tokens[after].kind in ("word", "quoted") \
            and not self.tokens[after].is_word(*_NOT_ALIAS)
        if not aliased:
            out.append(" AS " + quote_name(parts[-1]))  # keeps `table.column` working in the query
        return end

    def file_query(self, end: int, parts: list[str], out: list[str], streaming: bool = False) -> bool:
        """``format.`path` `` (`delta.`/Volumes/...``, `parquet.`...``, its last part back-quoted)
        ending before `end`: the files read with `spark.read.format(format).load(path)`, so the
        path is mapped and a Delta table read as the code's other reads are. False for any other
        name."""
        if len(parts) != 2 or parts[0].lower() not in FILE_FORMATS or "/" not in parts[1]:
            return False
        name = f"__files_{len(self.frames)}"
        reader = "spark.readStream" if streaming else "spark.read"
        self.frames[name] = f"{reader}.format({parts[0].lower()!r}).load({python_value(parts[1])})"
        out.append(_Placeholder("{" + name + "}"))
        after = next_significant(self.tokens, end - 1)
        if after is None or self.tokens[after].kind not in ("word", "quoted") or self.tokens[after].is_word(*_NOT_ALIAS):
            out.append(" AS " + quote_name(parts[1].rstrip("/").rsplit("/", 1)[-1] or "files"))
        return True

    def files(self, token: Token, open_index: int, out: list[str]) -> int:
        close_index = closing(self.tokens, open_index)
        if close_index is None:
            self.fail(f"{token.text}( is never closed", token)
            raise AssertionError
        arguments = [t for t in self.tokens[open_index + 1:close_index] if t.significant]
        streaming = token.is_word("CLOUD_FILES")
        # `STREAM read_files(...)` or `STREAM(read_files(...))`
        previous = [j for j in range(len(out)) if out[j].strip()]
        wrapped = False
        if previous and out[previous[-1]].upper() == "STREAM":
            streaming = True
            del out[previous[-1]:]
        elif len(previous) >= 2 and out[previous[-1]] == "(" and out[previous[-2]].upper() == "STREAM":
            streaming = True
            wrapped = True
            del out[previous[-2]:]
        path, options, schema = self.file_arguments(token, arguments)
        reader = "spark.readStream" if streaming else "spark.read"
        code = f'{reader}.format("cloudFiles").options(**{python_dict(options)})'
        if schema is not None:
            code += f".schema({python_value(schema)})"
        code += f".load({python_value(path)})"
        name = f"__files_{len(self.frames)}"
        self.frames[name] = code
        out.append(_Placeholder("{" + name + "}"))
        end = close_index + 1
        if wrapped:
            after = next_significant(self.tokens, close_index)
            if after is None or self.tokens[after].text != ")":
                self.fail("STREAM( read_files(...) is not closed", token)
            end = after + 1
        return end

    def file_arguments(self, token: Token, arguments: list[Token]) -> tuple[str, dict[str, str], str | None]:
        items = split_commas(arguments)
        if not items or len(items[0]) != 1 or items[0][0].kind != "string":
            self.fail(f"{token.text} needs the path as its first argument, a string literal", token)
        path = string_value(items[0][0])
        options: dict[str, str] = {}
        schema = None
        if token.is_word("CLOUD_FILES"):
            if len(items) < 2 or len(items[1]) != 1 or items[1][0].kind != "string":
                self.fail("cloud_files(path, format [, map(options)]) needs the format as a string literal", token)
            options["cloudFiles.format"] = string_value(items[1][0])
            for item in items[2:]:
                if not item or not item[0].is_word("MAP") or len(item) < 3:
                    self.fail("cloud_files takes its options as map('key', 'value', ...)", item[0] if item else token)
                values = split_commas(item[2:-1])
                if len(values) % 2 or not all(len(v) == 1 and v[0].kind == "string" for v in values):
                    self.fail("cloud_files options are map('key', 'value', ...) with string literals", item[0])
                for pair_key, pair_value in zip(values[::2], values[1::2]):
                    options[string_value(pair_key[0])] = string_value(pair_value[0])
            return path, options, None
        for item in items[1:]:
            if len(item) < 3 or item[1].kind != "arrow" or item[0].kind not in ("word", "quoted"):
                self.fail(f"{token.text} options are named: key => value", item[0] if item else token)
            key = item[0].identifier
            value = _literal(item[2:])
            if value is None:
                self.fail(f"{token.text} option {key} must be a literal (string, number or boolean)", item[0])
            if key.lower() == "schema":
                schema = value
            elif key.lower() in _AUTO_LOADER_OPTIONS:
                options[f"cloudFiles.{key}"] = value
            else:
                options[key] = value
        if "cloudFiles.format" not in options:
            self.fail(f"{token.text}: name the file format (format => 'json', 'csv', 'parquet', ...); the "
                      "local engine does not guess it", token)
        return path, options, schema


class _Placeholder(str):
    """A `{name}` for a DataFrame argument in a rewritten query (its braces are not escaped)."""


# Words that can follow a relation but are not its alias.
_NOT_ALIAS = (
    "WHERE", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "NATURAL", "SEMI", "ANTI", "ON", "USING", "GROUP",
    "ORDER", "LIMIT", "OFFSET", "HAVING", "WINDOW", "UNION", "EXCEPT", "INTERSECT", "MINUS", "SORT", "CLUSTER",
    "DISTRIBUTE", "QUALIFY", "PIVOT", "UNPIVOT", "LATERAL", "TABLESAMPLE", "WATERMARK",
)


def _after_from(out: list[str]) -> bool:
    """The text so far ends with FROM or JOIN: a relation comes next."""
    previous = next((text for text in reversed(out) if text.strip() and not text.startswith(("--", "/*"))), "")
    return previous.upper() in ("FROM", "JOIN")


def _escape_braces(text: str) -> str:
    """Braces doubled, except those of `${key}` references (resolved before formatting)."""
    parts = re.split(r"(\$\{[^}]*\})", text)
    return "".join(part if part.startswith("${") else part.replace("{", "{{").replace("}", "}}") for part in parts)


def _literal(tokens: list[Token]) -> str | None:
    if len(tokens) == 1 and tokens[0].kind == "string":
        return string_value(tokens[0])
    if len(tokens) == 1 and (tokens[0].kind == "number" or tokens[0].is_word("TRUE", "FALSE")):
        return tokens[0].text.lower()
    if len(tokens) == 2 and tokens[0].text == "-" and tokens[1].kind == "number":
        return "-" + tokens[1].text
    return None


def python_value(text: str) -> str:
    """A Python expression for a SQL string: resolved against the pipeline configuration if it
    holds `${key}` references, else the literal."""
    return f"_conf({text!r})" if "${" in text else repr(text)


def python_dict(values: dict[str, str]) -> str:
    """A Python dict expression of SQL strings (each as `python_value`)."""
    return "{" + ", ".join(f"{key!r}: {python_value(value)}" for key, value in values.items()) + "}"


_PARAMETER = re.compile(r"\$\{[^}]*\}")


def tables_read(text: str) -> tuple[str, ...] | None:
    """The tables and views a SQL query reads, as written (``LIVE.`` kept, back quotes where a
    part needs them), in the order they appear: names after FROM and JOIN, comma joins,
    subqueries and `STREAM(x)` included; CTE names, table functions (`read_files(...)`) and
    file queries (``delta.`/path` ``) left out. A name holding a `${key}` reference keeps it as
    written (its value is known at run time). None when the text does not parse as SQL (it is
    left to Spark).

    >>> tables_read("SELECT * FROM STREAM(LIVE.orders) o JOIN samples.tpch.nation n ON o.k = n.k")
    ('LIVE.orders', 'samples.tpch.nation')
    """
    import sqlglot
    from sqlglot import expressions as exp
    from sqlglot.errors import SqlglotError

    # `${key}` references are resolved at run time: placeholders keep the text parseable, and
    # the names holding one are given back with the reference as written.
    references: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        references.append(match.group())
        return f"__etl_parameter_{len(references) - 1}__"

    try:
        tree = sqlglot.parse_one(_PARAMETER.sub(placeholder, text), read="databricks")
    except SqlglotError:
        return None
    if tree is None:
        return None
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found: dict[str, None] = {}
    for node in tree.find_all(exp.Table):
        if not isinstance(node.this, exp.Identifier):
            continue  # a table function: read_files(...), STREAM(read_files(...))
        parts = [part.name for part in node.parts]
        if len(parts) == 1 and parts[0].lower() in ctes:
            continue
        if len(parts) == 2 and parts[0].lower() in FILE_FORMATS and "/" in parts[1]:
            continue
        name = ".".join("LIVE" if p.upper() == "LIVE" else quote_name(p) for p in parts)
        found.setdefault(re.sub(r"__etl_parameter_(\d+)__", lambda m: references[int(m.group(1))], name), None)
    return tuple(sorted(found, key=lambda name: _position(text, name)))


def _position(text: str, name: str) -> int:
    """Where `name`'s last part first appears in `text` (sqlglot's walk is not in text order)."""
    last = name.rsplit(".", 1)[-1].strip("`")
    at = text.find(last)
    return at if at >= 0 else len(text)
