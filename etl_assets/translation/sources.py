"""Transformation sources of every kind a pipeline holds (Python files, SQL files, Databricks
notebooks exported as source) turned into the Python code the local engine runs, and the static
facts the project needs about them (no Spark, no Dagster).

Notebooks exported from Databricks start with `# Databricks notebook source` (Python) or
`-- Databricks notebook source` (SQL); cells are separated by `# COMMAND ----------` /
`-- COMMAND ----------`; a cell in another language is written as `# MAGIC` / `-- MAGIC`
lines starting with `%sql`, `%python`, `%md`, `%pip`, `%run`, ... In the code the local engine
runs, every line stays on its line: markdown and separators become blank or comment lines, SQL
is translated statement by statement (see `sql_pipeline`), `%pip` cells are checked against the
project environment, `%run` is refused.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Literal

from etl_assets.conventions import by_config_name
from etl_assets.project.source_facts import (
    Action,
    DatasetFacts,
    DatasetKind,
    Expectation,
    add_dataset,
)
from etl_assets.translation.sql_pipeline import Translation, python_of_sql, render, translate_sql
from etl_assets.translation.sql_queries import tables_read
from etl_assets.translation.sql_text import SourceError

__all__ = [
    "DatasetFacts",
    "Expectation",
    "SourceError",
    "SourceKind",
    "datasets_defined",
    "tables_defined",
    "datasets_in_python",
    "reads_in_python",
    "python_source",
    "source_kind",
]

SourceKind = Literal["python", "sql", "python_notebook", "sql_notebook"]

_PY_HEADER = "# Databricks notebook source"
_SQL_HEADER = "-- Databricks notebook source"
_SEPARATOR = re.compile(r"^\s*(#|--) COMMAND -{5,}\s*$")
_MAGIC = {"python": re.compile(r"^# MAGIC ?(.*)$"), "sql": re.compile(r"^-- MAGIC ?(.*)$")}
_NOT_SOURCE = {".ipynb": "a Jupyter notebook (.ipynb)", ".dbc": "a Databricks archive (.dbc)",
               ".scala": "Scala", ".r": "R"}
_RESTART = re.compile(r"^\s*dbutils\.library\.restartPython\(\)\s*$")


def source_kind(path: str | os.PathLike[str]) -> SourceKind:
    """What a transformation file is, from its first line and its extension.

    >>> source_kind("transformations/silver/orders.sql")   # doctest: +SKIP
    'sql'
    """
    if Path(path).suffix.lower() in _NOT_SOURCE:
        raise SourceError(str(path), None, f"{_NOT_SOURCE[Path(path).suffix.lower()]} cannot be read as a pipeline "
                          "source: export it from Databricks as a source file (.py or .sql)")
    first = _first_line(Path(path))
    if first == _PY_HEADER:
        return "python_notebook"
    if first == _SQL_HEADER:
        return "sql_notebook"
    return "sql" if Path(path).suffix.lower() == ".sql" else "python"


def _first_line(path: Path) -> str:
    with path.open("r", encoding="utf-8-sig") as file:
        return file.readline().rstrip("\r\n").rstrip()


def python_source(path: str | os.PathLike[str]) -> str:
    """The Python code the local engine executes for a transformation file (each line of the
    result stands on the line of the file it comes from).

    Raises `SourceError` for what cannot run locally (a `%run`, a `%pip` package missing from
    the project environment, SQL that cannot be translated), naming file and line.

    >>> print(python_source("transformations/gold/totals.sql"))   # doctest: +SKIP
    """
    file = Path(path)
    text = file.read_text(encoding="utf-8-sig")
    kind = source_kind(file)
    if kind == "python":
        return text
    if kind == "sql":
        return python_of_sql(text, str(path))
    return _notebook_python(text, str(path), kind, check_packages=True)[0]


def datasets_defined(path: str | os.PathLike[str]) -> dict[str, DatasetFacts]:
    """Every dataset a transformation file defines, read statically: name -> facts (line, kind,
    private, expectations). Raises `SyntaxError` for Python that does not parse and
    `SourceError` for SQL that does not translate.

    >>> datasets_defined("transformations/silver/clean.sql")["clean"].kind   # doctest: +SKIP
    'streaming_table'
    """
    file = Path(path)
    stat = file.stat()
    # Validation, config and the bundle check each ask for the same files: read each version once.
    return dict(_datasets_of_version(os.fspath(file), stat.st_mtime_ns, stat.st_size))


def tables_defined(path: str | os.PathLike[str], catalog: str | None, schema: str | None) -> dict[str, DatasetFacts]:
    """`datasets_defined(path)` keyed by the config table each name stands for in a pipeline with
    this catalog and schema (`main.sales.orders`, `sales.orders` and `LIVE.orders` are `orders`;
    see `conventions.config_table_name`). Raises as `datasets_defined` does."""
    return by_config_name(datasets_defined(path), catalog, schema)


@lru_cache(maxsize=4096)
def _datasets_of_version(path: str, _mtime_ns: int, _size: int) -> dict[str, DatasetFacts]:
    file = Path(path)
    text = file.read_text(encoding="utf-8-sig")
    kind = source_kind(file)
    if kind == "python":
        return datasets_in_python(ast.parse(text, filename=str(path)))
    if kind == "sql":
        return translate_sql(text, str(path)).datasets
    code, translation, python_only = _notebook_python(text, str(path), kind, check_packages=False)
    found = datasets_in_python(ast.parse(python_only, filename=str(path)))
    for facts in translation.datasets.values():
        add_dataset(found, facts)
    return dict(sorted(found.items(), key=lambda item: item[1].line))


# notebooks ------------------------------------------------------------------------------------


def _notebook_python(text: str, path: str, kind: SourceKind, *, check_packages: bool) -> tuple[str, Translation, str]:
    """(code to run, the SQL cells' translation, the Python cells alone) of a notebook."""
    lines = text.split("\n")
    language = "python" if kind == "python_notebook" else "sql"
    translation = Translation()
    python_lines: dict[int, str] = {}
    settings: dict[str, str] = {}
    prelude_line: int | None = None
    for start, cell in _cells(lines):
        cell_language, body_start, body = _cell_language(cell, language)
        number = start + body_start
        if cell_language == "md" or cell_language is None:
            continue
        if cell_language == "sql":
            if prelude_line is None:  # a Python notebook's first %sql line (a SQL notebook's header)
                prelude_line = 1 if language == "sql" else number - 1
            translate_sql("\n".join(body), path, first_line=number, translation=translation, spark_conf=settings)
        elif cell_language == "python":
            for offset, line in enumerate(body):
                python_lines[number + offset] = _python_line(line, path, number + offset, check_packages)
        elif cell_language == "pip":
            _check_pip(body, path, number - 1, check_packages)
            python_lines[number - 1] = f"# %pip install {body[0].removeprefix('install').strip()}: " \
                "already installed in the project environment"
        elif cell_language == "run":
            raise SourceError(path, number - 1, f"`%run {' '.join(body).strip()}` runs another notebook, which "
                              "the local engine does not do: move the shared code into a Python module this "
                              "file imports, or add the notebook to the pipeline's libraries")
        else:
            raise SourceError(path, number - 1, f"%{cell_language} cells cannot run in a pipeline: remove the "
                              "cell or turn it into Python or SQL")
    code = render(translation, len(lines), prelude_line=prelude_line, python_lines=python_lines)
    python_only = "\n".join(python_lines.get(n, "") for n in range(1, len(lines) + 1)) + "\n"
    return code, translation, python_only


_LINE_MAGIC = re.compile(r"^(?P<indent>\s*)%(?P<magic>\w+)\s*(?P<rest>.*)$")


def _python_line(line: str, path: str, number: int, check_packages: bool) -> str:
    """One line of a Python cell as the local engine runs it. A `%pip install ...` line inside
    the cell (Databricks runs line magics anywhere in a cell) is checked like a `%pip` cell and
    becomes a comment; other line magics are refused by name; `restartPython()` does nothing."""
    if _RESTART.match(line):
        return "pass  # dbutils.library.restartPython()"
    magic = _LINE_MAGIC.match(line)
    if magic is None:
        return line
    name, rest = magic.group("magic").lower(), magic.group("rest")
    if name == "pip":
        _check_pip([rest], path, number, check_packages)
        return f"{magic.group('indent')}pass  # %pip {rest}: already installed in the project environment"
    raise SourceError(path, number, f"the line magic `%{name}` inside a Python cell cannot run in a local pipeline "
                      "(only `%pip install` of packages installed in the project environment can): remove the "
                      "line, or do what it does in Python")


def _cells(lines: list[str]) -> list[tuple[int, list[str]]]:
    """(line number of the cell's first line, its lines), the header line skipped."""
    cells: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 2
    for number, line in enumerate(lines[1:], start=2):
        if _SEPARATOR.match(line):
            cells.append((start, current))
            current = []
            start = number + 1
            continue
        current.append(line)
    cells.append((start, current))
    return cells


def _cell_language(cell: list[str], language: str) -> tuple[str | None, int, list[str]]:
    """(language of the cell, offset of its code from the cell's first line, its code lines).

    `language` is the notebook's own: a cell of plain lines is in it; a cell of magic lines says
    its language on its first line (`%sql`, `%md`, `%pip`, `%run`, ...).
    """
    first = next((i for i, line in enumerate(cell) if line.strip()), None)
    if first is None:
        return None, 0, []
    magic = _MAGIC[language]
    match = magic.match(cell[first])
    head = match.group(1).strip() if match else cell[first].strip()
    if not head.startswith("%"):
        return language, 0, cell
    words = head[1:].split()
    which = _magic_language(words[0] if words else "")
    arguments = " ".join(words[1:])
    body = [_unmagic(line, magic) for line in cell[first + 1:]]
    if which in ("sql", "python"):
        return which, first + 1, body
    return which, first + 1, [arguments, *body]


def _magic_language(name: str) -> str:
    name = name.lower()
    if name.startswith("md"):  # %md and %md-sandbox
        return "md"
    return {"py": "python"}.get(name, name)


def _unmagic(line: str, magic: re.Pattern[str]) -> str:
    match = magic.match(line)
    return match.group(1) if match else line


# Frameworks whose pipelines define their datasets at run time from an onboarding spec.
METADATA_DRIVEN = ("dlt-meta", "databricks-labs-sdp-meta")
METADATA_DRIVEN_REFUSAL = (
    "`{package}` builds a metadata-driven pipeline: its datasets come from the dataflow spec tables "
    "that its onboarding job writes in the workspace (Delta tables), read when the pipeline runs, so "
    "neither the local engine nor config.yml can know them from this code. Run it with the Databricks "
    "engine, or give the local engine the datasets as code (see docs/compatibility.md, "
    "\"Metadata-driven pipelines\")"
)


def _check_pip(body: list[str], path: str, line: int, check: bool) -> None:
    words = " ".join(body).split()
    if not words or words[0] != "install":
        raise SourceError(path, line, f"`%pip {' '.join(words)}` cannot run in a pipeline locally: only "
                          "%pip install of packages already in the project environment is accepted")
    if not check:
        return
    skip_next = False
    for word in words[1:]:
        if skip_next:
            skip_next = False
            continue
        if word in ("-r", "--requirement", "-e", "--editable", "-c", "--constraint"):
            raise SourceError(path, line, f"`%pip install {word}` cannot be checked locally: install what it "
                              "names in the project environment and list the packages by name")
        if word.startswith("-"):
            skip_next = word in ("-i", "--index-url", "--extra-index-url", "-f", "--find-links")
            continue
        package = re.split(r"[\[<>=!~;@ ]", word, maxsplit=1)[0]
        if package.lower().replace("_", "-") in METADATA_DRIVEN:
            raise SourceError(path, line, METADATA_DRIVEN_REFUSAL.format(package=package))
        if package and not _installed(package):
            raise SourceError(path, line, f"package '{package}' (from `%pip install`) is not installed in the "
                              f"project environment: install it there (pip install {word}) and run again")


def _installed(package: str) -> bool:
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        module = package.replace("-", "_").lower()
        try:
            return importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            return False


# Python facts ---------------------------------------------------------------------------------

_DATASET_DECORATORS = {"table", "materialized_view", "view", "temporary_view", "create_table", "create_view"}
_EXPECT = {"expect": "warn", "expect_or_drop": "drop", "expect_or_fail": "fail"}
_EXPECT_ALL = {"expect_all": "warn", "expect_all_or_drop": "drop", "expect_all_or_fail": "fail"}
_STREAMING_TABLE_CALLS = {"create_streaming_table", "create_target_table"}
_CDC_CALLS = {"create_auto_cdc_flow", "apply_changes", "create_auto_cdc_from_snapshot_flow",
              "apply_changes_from_snapshot", "auto_cdc"}
_STREAM_WORDS = re.compile(r"\bSTREAM\b|cloud_files|readStream|read_stream", re.IGNORECASE)


def datasets_in_python(tree: ast.Module) -> dict[str, DatasetFacts]:
    """The datasets a parsed Python module defines (decorators, `dp.table(...)(function)` calls,
    `create_streaming_table`, AUTO CDC targets), with the expectations declared with them.

    A `table` is a streaming table when its function reads a stream (`readStream`,
    `read_stream`, `STREAM` in SQL text) or comes from `etl_assets.ldp`, otherwise a materialized
    view, as `dp.table` decides on Databricks.
    """
    constants = _module_constants(tree)
    ldp_table = _imports_ldp_table(tree)
    found: dict[str, DatasetFacts] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _decorated(node, constants, ldp_table, found)
        elif isinstance(node, ast.Call):
            called = _name_of(node.func)
            if called in _STREAMING_TABLE_CALLS:
                name = _keyword(node, "name") or _positional(node)
                if name:
                    rules = [rule for keyword in node.keywords if keyword.arg in _EXPECT_ALL
                             for rule in _rules_of_dict(keyword.value, _EXPECT_ALL[keyword.arg], constants)]
                    add_dataset(found, DatasetFacts(name, node.lineno, "streaming_table", False, tuple(rules)))
            elif called in _CDC_CALLS:
                name = _keyword(node, "target")
                if name:
                    add_dataset(found, DatasetFacts(name, node.lineno, "streaming_table", reads=_cdc_source(node, constants)))
            elif isinstance(node.func, ast.Call) and _name_of(node.func.func) in _DATASET_DECORATORS:
                _called_decorator(node, constants, ldp_table, found)
    return dict(sorted(found.items(), key=lambda item: item[1].line))


def _decorated(node: ast.FunctionDef | ast.AsyncFunctionDef, constants: dict[str, ast.expr], ldp_table: bool,
               found: dict[str, DatasetFacts]) -> None:
    definition = None
    rules: list[Expectation] = []
    for decorator in node.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        target = call.func if call else decorator
        called = _name_of(target)
        if called in _DATASET_DECORATORS and definition is None:
            definition = (decorator, call, target)
        elif call is not None:
            rules += _rules_of_call(call, constants)
    if definition is None:
        return
    decorator, call, target = definition
    name = _keyword(call, "name") or node.name
    kind = _kind(_name_of(target) or "", target, ldp_table, node)
    if call is not None:
        rules += _rules_of_keywords(call, constants)
    reads, unresolved = reads_in_function(node, constants)
    add_dataset(found, DatasetFacts(name, decorator.lineno, kind, _private(call), tuple(rules), reads, unresolved))


def _called_decorator(node: ast.Call, constants: dict[str, ast.expr], ldp_table: bool,
                      found: dict[str, DatasetFacts]) -> None:
    """`dp.table(name="x")(dp.expect(...)(function))`: the decorator applied as a call."""
    decorator = node.func
    assert isinstance(decorator, ast.Call)
    name = _keyword(decorator, "name")
    if not name:
        return
    rules = _rules_of_keywords(decorator, constants)
    wrapped: ast.expr | None = node.args[0] if node.args else None
    while isinstance(wrapped, ast.Call) and isinstance(wrapped.func, ast.Call):
        rules += _rules_of_call(wrapped.func, constants)
        wrapped = wrapped.args[0] if wrapped.args else None
    kind = _kind(_name_of(decorator.func) or "", decorator.func, ldp_table, wrapped)
    add_dataset(found, DatasetFacts(name, node.lineno, kind, _private(decorator), tuple(rules)))


# Reads by name: `spark.read.table(n)`, `spark.readStream.table(n)`, `spark.table(n)`,
# `dlt.read(n)`, `dlt.read_stream(n)` (`dp.` alike), `spark.sql(text)`.
_READERS = ("read", "readStream")
_PIPELINE_READS = ("read", "read_stream")


def reads_in_function(node: ast.AST, constants: dict[str, ast.expr]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The tables and views a query function reads by name, in order, and the reads whose name
    is only known at run time, each described with its line.

    Names are string literals or module constants; `spark.sql` text is a literal, a module
    constant or an f-string, whose table names count when the name itself is literal
    (`f"SELECT * FROM trips WHERE day = '{day}'"` reads `trips`; in
    `f"SELECT * FROM {catalog}.sales.trips"` the name is built at run time).
    """
    reads: list[str] = []
    unresolved: list[str] = []
    body = node.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else [node]
    calls = [n for statement in body for n in ast.walk(statement) if isinstance(n, ast.Call)]
    for call in sorted(calls, key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))):
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute) or not call.args:
            continue
        method, receiver, argument = call.func.attr, call.func.value, call.args[0]
        if method == "sql":
            text, expressions = _sql_text(argument, constants)
            if text is None:
                unresolved.append(f"line {call.lineno}: spark.sql({ast.unparse(argument)}), text built at run time")
                continue
            names = tables_read(text)
            if names is None:
                continue  # not SQL sqlglot reads: Spark reports it when it runs
            for name in names:
                if _EXPRESSION.search(name):
                    shown = _EXPRESSION.sub(lambda m: "{" + expressions[int(m.group(1))] + "}", name)
                    unresolved.append(f"line {call.lineno}: {shown} in spark.sql text, name built at run time")
                elif "${" in name:
                    unresolved.append(f"line {call.lineno}: {name} in spark.sql text, a configuration value")
                else:
                    reads.append(name)
            continue
        is_table = method == "table" and (_reader_chain(receiver) or _name_of(receiver) == "spark")
        is_pipeline_read = method in _PIPELINE_READS and isinstance(receiver, ast.Name) and receiver.id != "spark"
        if not (is_table or is_pipeline_read):
            continue
        literal = _literal(argument, constants)
        if literal is None:
            unresolved.append(f"line {call.lineno}: {ast.unparse(call.func)}({ast.unparse(argument)}), name built "
                              "at run time")
        else:
            reads.append(f"LIVE.{literal}" if is_pipeline_read and "." not in literal else literal)
    return tuple(dict.fromkeys(reads)), tuple(unresolved)


def reads_in_python(tree: ast.Module) -> dict[str, tuple[str, ...]]:
    """Dataset name -> what its decorated query functions read (`reads_in_function`; an
    `append_flow`'s reads count for its target), for every decorated function of a parsed
    module; only the statements and those functions' bodies are walked."""
    constants = _module_constants(tree)
    found: dict[str, tuple[str, ...]] = {}
    for below in statement_levels(tree):
        for node in below:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                    and _name_of(node.value.func) in _CDC_CALLS:  # an AUTO CDC target reads its source
                target, source = _keyword(node.value, "target"), _cdc_source(node.value, constants)
                if target and source:
                    found[target] = tuple(dict.fromkeys(found.get(target, ()) + source))
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for decorator in node.decorator_list:
                call = decorator if isinstance(decorator, ast.Call) else None
                called = _name_of(call.func if call else decorator)
                if called in _DATASET_DECORATORS:
                    name: str | None = _keyword(call, "name") or node.name
                elif called == "append_flow":  # what a flow reads, its target reads
                    name = _keyword(call, "target")
                else:
                    continue
                reads = reads_in_function(node, constants)[0]
                if name and reads:
                    found[name] = tuple(dict.fromkeys(found.get(name, ()) + reads))
                break
    return found


# What holds statements: statements themselves, `except` clauses and `case` blocks.
STATEMENT_LIKE = (ast.stmt, ast.excepthandler, ast.match_case)


def statement_levels(tree: ast.AST) -> Iterator[list[ast.AST]]:
    """The statements of `tree` level by level (those directly in it, then those in them, ...),
    each level in source order. Expressions never hold statements, so only statements (and
    `except` and `case` blocks) are visited: each keeps its depth and its order among the others
    (which decides the first definition of a repeated name)."""
    level: list[ast.AST] = [tree]
    while level:
        below: list[ast.AST] = []
        for parent in level:
            for field_name in parent._fields:
                value = getattr(parent, field_name, None)
                if isinstance(value, list):
                    below.extend(v for v in value if isinstance(v, STATEMENT_LIKE))
        if below:
            yield below
        level = below


def _cdc_source(call: ast.Call, constants: dict[str, ast.expr]) -> tuple[str, ...]:
    """The `source=` an AUTO CDC call reads (a view or table of the pipeline), if literal."""
    source = next((_literal(k.value, constants) for k in call.keywords if k.arg == "source"), None)
    return (f"LIVE.{source}" if "." not in source else source,) if source else ()


def _literal(node: ast.expr | None, constants: dict[str, ast.expr]) -> str | None:
    """A string literal, a module constant or an f-string without expressions."""
    value = _resolve(node, constants)
    if isinstance(value, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in value.values):
        return "".join(str(v.value) for v in value.values if isinstance(v, ast.Constant))
    return _string(value, constants)


_EXPRESSION = re.compile(r"__etl_expression_(\d+)__")


def _sql_text(node: ast.expr, constants: dict[str, ast.expr]) -> tuple[str | None, list[str]]:
    """The text of a `spark.sql` argument, each f-string expression a placeholder; None when the
    text is not written in the code (a variable, a call)."""
    value = _resolve(node, constants)
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value, []
    if not isinstance(value, ast.JoinedStr):
        return None, []
    parts: list[str] = []
    expressions: list[str] = []
    for piece in value.values:
        if isinstance(piece, ast.Constant) and isinstance(piece.value, str):
            parts.append(piece.value)
        elif isinstance(piece, ast.FormattedValue):
            parts.append(f"__etl_expression_{len(expressions)}__")
            expressions.append(ast.unparse(piece.value))
    return "".join(parts), expressions


def _reader_chain(node: ast.expr) -> bool:
    """Whether `node` is a DataFrame reader: `spark.read`, `spark.readStream`, with any
    `.format(...)` / `.option(...)` calls after it."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        node = node.func.value
    return isinstance(node, ast.Attribute) and node.attr in _READERS


def _kind(called: str, target: ast.expr, ldp_table: bool, body: ast.AST | None) -> DatasetKind:
    if called == "materialized_view":
        return "materialized_view"
    if called in ("view", "temporary_view", "create_view"):
        return "temporary_view"
    if ldp_table and isinstance(target, ast.Name):
        return "streaming_table"
    if body is not None and _reads_stream(body):
        return "streaming_table"
    return "materialized_view"


def _reads_stream(body: ast.AST) -> bool:
    for node in ast.walk(body):
        if isinstance(node, ast.Attribute) and node.attr in ("readStream", "read_stream"):
            return True
        if isinstance(node, ast.Name) and node.id == "read_stream":
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _STREAM_WORDS.search(node.value):
            return True
    return False


def _private(call: ast.Call | None) -> bool:
    for keyword in call.keywords if call else ():
        if keyword.arg in ("private", "temporary") and isinstance(keyword.value, ast.Constant):
            return keyword.value.value is True
    return False


def _rules_of_call(call: ast.Call, constants: dict[str, ast.expr]) -> list[Expectation]:
    """The expectations of one `expect*` decorator call (none for any other call)."""
    called = _name_of(call.func) or ""
    if called in _EXPECT and len(call.args) >= 2:
        name, condition = (_string(arg, constants) for arg in call.args[:2])
        return [Expectation(name, condition, _action(_EXPECT[called]))] if name and condition else []
    if called in _EXPECT_ALL and call.args:
        return _rules_of_dict(call.args[0], _EXPECT_ALL[called], constants)
    return []


def _rules_of_keywords(call: ast.Call, constants: dict[str, ast.expr]) -> list[Expectation]:
    """`expectations=[Rule(...), ...]` of the etl_assets.ldp decorators."""
    rules = []
    for keyword in call.keywords:
        if keyword.arg != "expectations":
            continue
        value = _resolve(keyword.value, constants)
        if not isinstance(value, (ast.List, ast.Tuple)):
            continue
        for element in value.elts:
            item = _resolve(element, constants)
            if isinstance(item, ast.Call) and _name_of(item.func) == "Rule":
                fields = dict(zip(("name", "condition", "action"), item.args))
                fields.update({k.arg: k.value for k in item.keywords if k.arg})
                name = _string(fields.get("name"), constants)
                condition = _string(fields.get("condition"), constants)
                action = _string(fields.get("action"), constants) or "warn"
                if name and condition and action in ("warn", "drop", "fail"):
                    rules.append(Expectation(name, condition, _action(action)))
    return rules


def _rules_of_dict(node: ast.expr, action: str, constants: dict[str, ast.expr]) -> list[Expectation]:
    value = _resolve(node, constants)
    if not isinstance(value, ast.Dict):
        return []
    rules = []
    for key, condition in zip(value.keys, value.values):
        name = _string(key, constants) if key is not None else None
        text = _string(condition, constants)
        if name and text:
            rules.append(Expectation(name, text, _action(action)))
    return rules


def _action(text: str) -> Action:
    return "drop" if text == "drop" else "fail" if text == "fail" else "warn"


def _module_constants(tree: ast.Module) -> dict[str, ast.expr]:
    """Module-level `NAME = <literal>` assignments (dicts, lists, strings) by name."""
    constants: dict[str, ast.expr] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            constants[statement.targets[0].id] = statement.value
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value:
            constants[statement.target.id] = statement.value
    return constants


def _resolve(node: ast.expr | None, constants: dict[str, ast.expr]) -> ast.expr | None:
    seen = 0
    while isinstance(node, ast.Name) and node.id in constants and seen < 10:
        node = constants[node.id]
        seen += 1
    return node


def _string(node: ast.expr | None, constants: dict[str, ast.expr]) -> str | None:
    value = _resolve(node, constants)
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    return None


def _imports_ldp_table(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.ImportFrom) and (node.module or "").startswith("etl_assets.ldp")
               and any(alias.name == "table" and alias.asname is None for alias in node.names)
               for node in tree.body)


def _name_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _keyword(call: ast.Call | None, name: str) -> str | None:
    for keyword in call.keywords if call else ():
        if keyword.arg == name and isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
            return keyword.value.value
    return None


def _positional(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None
