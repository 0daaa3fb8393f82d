"""The Databricks pipeline SQL dialect translated to Python that uses the Databricks pipeline
Python API (`from pyspark import pipelines as dp`), so expectations, AUTO CDC and Auto Loader
behave the same for SQL and Python sources on the local engine.

Each statement becomes one Python statement on the line where the SQL statement starts (lines
in between stay blank), so a traceback names the line of the user's file; a query's text keeps
its own line breaks, padded so that Spark's `line N` in a parse error is the file's line too.

What is translated:

- `CREATE [OR REFRESH] [PRIVATE|TEMPORARY] STREAMING TABLE | MATERIALIZED VIEW | LIVE TABLE |
  STREAMING LIVE TABLE | [TEMPORARY|LIVE] VIEW name [(columns, CONSTRAINT c EXPECT (cond)
  [ON VIOLATION DROP ROW | FAIL UPDATE])] [COMMENT] [TBLPROPERTIES] [PARTITIONED BY]
  [CLUSTER BY] [USING DELTA] AS query`: `dp.table` (streaming tables), `dp.materialized_view`
  (materialized views, live tables, and persisted views, which the local engine stores),
  `dp.temporary_view`, each wrapped in `dp.expect` / `dp.expect_or_drop` / `dp.expect_or_fail`.
- A streaming table without a query: `dp.create_streaming_table` (expectations as
  `expect_all*`), the target of flows; `... FLOW INSERT [ONCE] [BY NAME] query` and
  `... FLOW AUTO CDC ...` declare the table and its flow in one statement.
- `CREATE FLOW f AS INSERT [ONCE] INTO [ONCE] t [BY NAME] query`: `dp.append_flow`. Databricks'
  syntax names `BY NAME`; its earlier examples and the Spark guide leave it out, and a flow
  appends to its streaming table by column name either way (the table's columns are those of
  its flows), so both forms are the same flow.
- `[CREATE FLOW f AS] AUTO CDC INTO t` / `APPLY CHANGES INTO t FROM src KEYS (...) [IGNORE
  NULL UPDATES] [APPLY AS DELETE WHEN c] [APPLY AS TRUNCATE WHEN c] SEQUENCE BY e [COLUMNS ...
  | COLUMNS * EXCEPT (...)] [STORED AS SCD TYPE 1|2] [TRACK HISTORY ON ...]`:
  `dp.create_auto_cdc_flow`.
- In queries: `LIVE.x` is `x`; `STREAM x` and `STREAM(x)` are `spark.readStream.table("x")`;
  `read_files('path', format => 'json', ...)` and `cloud_files('path', 'json', map(...))`
  become `spark.readStream.format("cloudFiles")` (after `STREAM`, and always for
  `cloud_files`) or `spark.read.format("cloudFiles")` with the same options; a three-part name
  `c.s.t` after FROM or JOIN is `spark.read.table("c.s.t")` (names mapped as in Python). These
  are passed to `spark.sql` as DataFrame arguments, so a query's plan shows that it streams
  without being analyzed (pipeline query functions may not analyze), as a Python query's plan
  does. Statements end at `;` and at notebook cell separators (`-- COMMAND ----------`).
- `${key}`: the pipeline configuration value `spark.conf.get(key)`, read when the code runs.
- `SET key = value` (or `key=value`): `spark_conf` of the datasets and flows defined after it in
  the file (notebook cells included), and the value of `${key}` in the queries after it; `SET`,
  `SET key` and `SET -v`, which only show values in a notebook, define nothing.

Anything else raises `SourceError` naming the construct, the file and the line.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import NoReturn

from etl_assets.project.source_facts import (
    Action,
    DatasetFacts,
    DatasetKind,
    Expectation,
    add_dataset,
)
from etl_assets.translation.sql_queries import QueryRewriter, python_dict, python_value, tables_read
from etl_assets.translation.sql_text import (
    SourceError,
    Statement,
    Token,
    index_of,
    name_text,
    split_commas,
    split_statements,
    string_value,
    text_of,
)

# Helpers the translated code calls: `${key}` substitution and `spark.sql` with it. Defined by
# one `exec` so that the prelude stays on one line and every later line keeps its number.
_HELPERS = '''
import re as _re

try:
    spark
except NameError:  # a runner that does not hand the session to the module
    from pyspark.sql import SparkSession
    spark = SparkSession.active()

def _conf(text, braces=False):
    """`text` with each ${key} replaced by the pipeline configuration value of key."""
    def value(match):
        key = match.group(1)
        found = spark.conf.get(key, None)
        if found is None:
            raise KeyError(
                f"${{{key}}} is used in {globals().get('__file__', 'a pipeline source')} but the pipeline "
                f"configuration has no {key!r}: "
                f"add {key} to the pipeline's configuration"
            )
        return found.replace("{", "{{").replace("}", "}}") if braces else found
    return _re.sub(r"\\$\\{([^}]*)\\}", value, text)

def _sql(text, **frames):
    """spark.sql over `text` with its configuration references resolved."""
    return spark.sql(_conf(text, braces=bool(frames)), **frames)
'''
PRELUDE = (
    "from pyspark import pipelines as dp; from pyspark.sql import functions as F; "
    f"exec({_HELPERS!r})"
)

_ACTIONS: dict[Action, str] = {"warn": "expect", "drop": "expect_or_drop", "fail": "expect_or_fail"}
_ALL_ACTIONS: dict[Action, str] = {"warn": "expect_all", "drop": "expect_all_or_drop", "fail": "expect_all_or_fail"}


@dataclass
class Translation:
    """Python code per line of the source (`lines[i]` is the code for line `first_line + i`),
    and the datasets the SQL defines."""

    lines: dict[int, list[str]] = field(default_factory=dict)
    datasets: dict[str, DatasetFacts] = field(default_factory=dict)

    def add(self, line: int, code: str) -> None:
        """Put one Python statement on `line`."""
        self.lines.setdefault(line, []).append(code)


def translate_sql(text: str, path: str, *, first_line: int = 1, translation: Translation | None = None,
                  spark_conf: dict[str, str] | None = None) -> Translation:
    """Translate pipeline SQL text (a file or a notebook cell starting at `first_line`).

    `spark_conf` carries `SET` values from one notebook cell to the next.

    >>> translate_sql("CREATE MATERIALIZED VIEW t AS SELECT 1 AS x", "t.sql").lines[1]  # doctest: +ELLIPSIS
    ["dp.materialized_view(name='t')(lambda: _sql('SELECT 1 AS x'))"]
    """
    out = translation if translation is not None else Translation()
    settings = spark_conf if spark_conf is not None else {}
    for statement in split_statements(text, path, first_line):
        _Statement(statement, path, out, settings).translate()
    return out


def python_of_sql(text: str, path: str) -> str:
    """The Python module text for a SQL file: the prelude on line 1, each statement on its line."""
    return render(translate_sql(text, path), text.count("\n") + 1, prelude_line=1)


def render(translation: Translation, line_count: int, *, prelude_line: int | None,
           python_lines: dict[int, str] | None = None) -> str:
    """Lay out translated statements (and verbatim Python lines) so each sits on its source line."""
    rows = []
    for number in range(1, max([line_count, *translation.lines]) + 1):
        parts = list(translation.lines.get(number, []))
        if number == prelude_line:
            parts.insert(0, PRELUDE)
        if python_lines is not None and number in python_lines:
            rows.append(python_lines[number] if not parts else "; ".join(parts))
        else:
            rows.append("; ".join(parts))
    return "\n".join(rows)


class _Statement:
    """One SQL statement being translated; a cursor over its significant tokens."""

    def __init__(self, statement: Statement, path: str, out: Translation, settings: dict[str, str]):
        self.statement = statement
        self.path = path
        self.out = out
        self.settings = settings
        self.tokens = statement.significant
        self.pos = 0
        self.reads: tuple[str, ...] = ()  # what the last query read (names as written)

    # cursor ---------------------------------------------------------------------------------

    def peek(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def at(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.is_word(*words)

    def at_punct(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "punct" and token.text == text

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            self.fail("the statement ends too early")
        self.pos += 1
        return token

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.pos += 1
            return True
        return False

    def expect(self, *words: str) -> Token:
        token = self.peek()
        if token is None or not token.is_word(words[0]):
            found = f"'{token.text}'" if token else "the end of the statement"
            self.fail(f"expected {' '.join(words)} but found {found}")
        for word in words:
            token = self.take()
            if not token.is_word(word):
                self.fail(f"expected {' '.join(words)} but found '{token.text}'", token)
        return token

    def expect_punct(self, text: str) -> Token:
        token = self.peek()
        if token is None or token.kind != "punct" or token.text != text:
            self.fail(f"expected '{text}' but found {repr(token.text) if token else 'the end of the statement'}")
        return self.take()

    def fail(self, message: str, token: Token | None = None) -> NoReturn:
        where = token or self.peek() or (self.tokens[-1] if self.tokens else None)
        raise SourceError(self.path, where.line if where else self.statement.line, message)

    def name(self) -> str:
        """A possibly qualified name, `LIVE.` dropped."""
        parts = [self._name_part()]
        while self.at_punct("."):
            self.take()
            parts.append(self._name_part())
        if len(parts) > 1 and parts[0].upper() == "LIVE":
            parts = parts[1:]
        return ".".join(parts)

    def _name_part(self) -> str:
        token = self.take()
        if token.kind not in ("word", "quoted"):
            self.fail(f"expected a name but found '{token.text}'", token)
        return token.identifier

    def parenthesized(self) -> list[Token]:
        """The tokens (all of them, comments included) between a `(` and its `)`."""
        open_token = self.expect_punct("(")
        all_tokens = self.statement.tokens
        start = index_of(all_tokens, open_token) + 1
        depth = 1
        for index in range(start, len(all_tokens)):
            token = all_tokens[index]
            if token.kind == "punct" and token.text == "(":
                depth += 1
            elif token.kind == "punct" and token.text == ")":
                depth -= 1
                if depth == 0:
                    while self.peek() is not token:
                        self.pos += 1
                    self.pos += 1
                    return all_tokens[start:index]
        self.fail("a '(' is never closed", open_token)
        raise AssertionError

    def name_list(self) -> list[str]:
        """`(a, b)` or `a, b` as names."""
        if self.at_punct("("):
            inner = [t for t in self.parenthesized() if t.significant]
            return [name_text(part) for part in split_commas(inner)]
        names = [self.name()]
        while self.at_punct(","):
            self.take()
            names.append(self.name())
        return names

    def rest(self) -> list[Token]:
        """Every remaining token of the statement, comments and spaces included."""
        if self.pos >= len(self.tokens):
            return []
        return self.statement.tokens[index_of(self.statement.tokens, self.tokens[self.pos]):]

    # statements -----------------------------------------------------------------------------

    def translate(self) -> None:
        first = self.peek()
        assert first is not None
        if self.accept("SET"):
            self.set_statement()
        elif self.accept("CREATE"):
            self.create()
        elif self.at("APPLY", "AUTO"):
            self.auto_cdc(None)
        else:
            self.fail(f"'{first.text.upper()}' statements are not pipeline definitions: a pipeline SQL "
                      "source holds CREATE STREAMING TABLE / MATERIALIZED VIEW / VIEW / FLOW, "
                      "AUTO CDC INTO and SET statements", first)

    def set_statement(self) -> None:
        if self.at("VAR", "VARIABLE"):
            self.fail("SET VARIABLE (session variables) is not supported in pipeline sources: use the "
                      "pipeline configuration and ${key} references")
        rest = [t for t in self.rest()]
        equals = next((i for i, t in enumerate(rest) if t.kind == "punct" and t.text == "="), None)
        if equals is None:
            # `SET`, `SET key`, `SET -v` only show values in a notebook: nothing to define.
            self.pos = len(self.tokens)
            return
        key = text_of([t for t in rest[:equals] if t.kind != "comment"]).strip()
        # The value is the text after `=` as written, quotes included, as Spark's SET keeps it:
        # `SET d = '2020-01-01'` makes `WHERE day > ${d}` compare with a string literal.
        value = text_of([t for t in rest[equals + 1:] if t.kind != "comment"]).strip()
        if not key:
            self.fail("SET needs a key before `=`")
        self.settings[key] = _with_settings(value, self.settings)

    def create(self) -> None:
        self.accept_or_refresh()
        modifiers = []
        while self.at("PRIVATE", "TEMPORARY", "LIVE", "STREAMING", "MATERIALIZED"):
            modifiers.append(self.take().text.upper())
        object_token = self.peek()
        if self.accept("FLOW"):
            self.flow()
            return
        if not self.accept("TABLE", "VIEW"):
            found = object_token.text if object_token else "nothing"
            self.fail(f"CREATE {' '.join(modifiers)} {found.upper()} is not a pipeline dataset: use CREATE "
                      "STREAMING TABLE, MATERIALIZED VIEW, [TEMPORARY] VIEW or FLOW")
        assert object_token is not None
        kind = self.kind_of(modifiers, object_token.text.upper(), object_token)
        private = "PRIVATE" in modifiers or ("TEMPORARY" in modifiers and kind != "temporary_view")
        if self.accept("IF"):
            self.expect("NOT", "EXISTS")
        start = self.peek()
        line = start.line if start is not None else self.statement.line
        name = self.name()
        self.dataset(name, kind, private, line)

    def accept_or_refresh(self) -> None:
        if self.accept("OR"):
            if not self.accept("REFRESH", "REPLACE"):
                self.fail("expected REFRESH or REPLACE after CREATE OR")

    def kind_of(self, modifiers: list[str], word: str, token: Token) -> DatasetKind:
        if word == "TABLE":
            if "STREAMING" in modifiers:
                return "streaming_table"
            if "LIVE" in modifiers:
                return "materialized_view"
            self.fail("CREATE TABLE is not a pipeline dataset: use CREATE STREAMING TABLE or CREATE "
                      "MATERIALIZED VIEW", token)
        if "MATERIALIZED" in modifiers:
            return "materialized_view"
        if "STREAMING" in modifiers:
            self.fail("STREAMING VIEW is not a pipeline dataset: use CREATE TEMPORARY VIEW over a "
                      "STREAM(...) query", token)
        if "TEMPORARY" in modifiers or "LIVE" in modifiers:
            return "temporary_view"
        if "PRIVATE" in modifiers:
            self.fail("PRIVATE VIEW is not a pipeline dataset: use CREATE TEMPORARY VIEW", token)
        return "view"

    def dataset(self, name: str, kind: DatasetKind, private: bool, line: int) -> None:
        schema, expectations = self.specification() if self.at_punct("(") else ("", [])
        options = self.clauses()
        if schema:
            options["schema"] = repr(schema)
        if private:
            options["private"] = "True"
        facts = DatasetFacts(name, line, kind, private, tuple(expectations))
        if self.accept("AS"):
            query = self.query(self.rest())
            facts = dataclasses.replace(facts, reads=self.reads)
            define = {"streaming_table": "table", "materialized_view": "materialized_view",
                      "view": "materialized_view", "temporary_view": "temporary_view"}[kind]
            if define == "temporary_view":
                for key in ("table_properties", "partition_cols", "cluster_by", "schema", "private"):
                    if key in options:
                        self.fail(f"a temporary view has no {key.replace('_', ' ')}: remove it")
            options = {"name": repr(name), **options, **self.conf_option()}
            body = query
            for rule in reversed(expectations):
                body = f"dp.{_ACTIONS[rule.action]}({rule.name!r}, {python_value(rule.condition)})({body})"
            self.out.add(self.statement.line, f"dp.{define}({_keywords(options)})({body})")
            add_dataset(self.out.datasets, facts)
            return
        if kind != "streaming_table":
            self.fail(f"{kind.replace('_', ' ')} '{name}' has no query: add `AS SELECT ...`")
        options.pop("private", None)  # create_streaming_table publishes to the pipeline only
        self.out.add(self.statement.line, self.streaming_table(name, options, expectations))
        add_dataset(self.out.datasets, facts)
        if self.accept("FLOW"):
            if self.at("AUTO", "APPLY"):
                self.auto_cdc(None, target=name)
            elif self.accept("INSERT"):
                once = self.accept("ONCE")
                if self.accept("BY"):
                    self.expect("NAME")
                self.append_flow(name, name, once)
            else:
                self.fail("expected INSERT BY NAME or AUTO CDC after FLOW")
        else:
            extra = self.peek()
            if extra is not None:
                self.fail(f"unexpected '{extra.text}' in the definition of '{name}'", extra)

    def streaming_table(self, name: str, options: dict[str, str], expectations: list[Expectation]) -> str:
        rules = {}
        for action, keyword in _ALL_ACTIONS.items():
            chosen = {r.name: r.condition for r in expectations if r.action == action}
            if chosen:
                rules[keyword] = python_dict(chosen)
        return f"dp.create_streaming_table({_keywords({'name': repr(name), **options, **rules})})"

    def specification(self) -> tuple[str, list[Expectation]]:
        inner = self.parenthesized()
        columns = []
        rules = []
        for item in split_commas(inner, keep_all=True):
            significant = [t for t in item if t.significant]
            if not significant:
                continue
            head = significant[0]
            if head.is_word("CONSTRAINT"):
                rules.append(self.constraint(significant, item))
            elif head.is_word("PRIMARY", "FOREIGN", "CHECK", "UNIQUE"):
                self.fail(f"table constraint {head.text.upper()} is not supported on the local engine: "
                          "remove it (expectations are CONSTRAINT name EXPECT (condition))", head)
            elif any(t.is_word("EXPECT") for t in significant):
                self.fail("an expectation goes in its own CONSTRAINT name EXPECT (condition) item, "
                          "not inside a column definition", head)
            elif any(t.is_word("MASK") for t in significant):
                self.fail("column MASK is not supported on the local engine: remove it", head)
            else:
                columns.append(text_of([t for t in item if t.kind != "comment"]).strip())
        return ", ".join(columns), rules

    def constraint(self, tokens: list[Token], written: list[Token]) -> Expectation:
        head = tokens[0]
        if len(tokens) < 3 or tokens[1].kind not in ("word", "quoted"):
            self.fail("expected CONSTRAINT name EXPECT (condition)", head)
        name = tokens[1].identifier
        if not tokens[2].is_word("EXPECT"):
            self.fail(f"constraint '{name}': only expectations (CONSTRAINT {name} EXPECT (condition)) are "
                      f"supported, not {tokens[2].text.upper()}", tokens[2])
        rest = tokens[3:]
        if not rest or rest[0].text != "(":
            self.fail(f"constraint '{name}': the condition goes in parentheses: EXPECT (condition)", head)
        depth = 0
        end = 0
        for index, token in enumerate(rest):
            if token.kind == "punct" and token.text == "(":
                depth += 1
            elif token.kind == "punct" and token.text == ")":
                depth -= 1
                if depth == 0:
                    end = index
                    break
        opening, closing = rest[0], rest[end]
        inside = written[index_of(written, opening) + 1:index_of(written, closing)]
        condition = "".join(" " if not t.significant else t.text for t in inside).strip()
        tail = [t.text.upper() for t in rest[end + 1:]]
        action: Action
        if not tail:
            action = "warn"
        elif tail == ["ON", "VIOLATION", "DROP", "ROW"]:
            action = "drop"
        elif tail == ["ON", "VIOLATION", "FAIL", "UPDATE"]:
            action = "fail"
        else:
            self.fail(f"constraint '{name}': expected ON VIOLATION DROP ROW or ON VIOLATION FAIL UPDATE, "
                      f"found {' '.join(tail)}", rest[end + 1] if end + 1 < len(rest) else head)
        if not condition:
            self.fail(f"constraint '{name}' has an empty condition", head)
        return Expectation(name, condition, action)

    def clauses(self) -> dict[str, str]:
        options: dict[str, str] = {}
        while self.peek() is not None and not self.at("AS", "FLOW"):
            token = self.take()
            if token.is_word("COMMENT"):
                options["comment"] = repr(self.string("COMMENT"))
            elif token.is_word("TBLPROPERTIES"):
                options["table_properties"] = repr(self.properties())
            elif token.is_word("PARTITIONED"):
                self.expect("BY")
                options["partition_cols"] = repr(self.name_list())
            elif token.is_word("CLUSTER"):
                self.expect("BY")
                if not self.accept("AUTO", "NONE"):
                    options["cluster_by"] = repr(self.name_list())
            elif token.is_word("USING"):
                if not self.accept("DELTA"):
                    self.fail("only USING DELTA is accepted in pipeline sources")
            else:
                self.fail(f"the clause {token.text.upper()} is not supported on the local engine: remove it "
                          "(supported: COMMENT, TBLPROPERTIES, PARTITIONED BY, CLUSTER BY, USING DELTA)", token)
        return options

    def string(self, clause: str) -> str:
        token = self.take()
        if token.kind != "string":
            self.fail(f"{clause} takes a string literal, not '{token.text}'", token)
        return string_value(token)

    def properties(self) -> dict[str, str]:
        inner = [t for t in self.parenthesized() if t.significant]
        found = {}
        for item in split_commas(inner):
            equals = next((i for i, t in enumerate(item) if t.text == "="), None)
            key_tokens = item[:equals] if equals is not None else item[:1]
            value_tokens = item[equals + 1:] if equals is not None else item[1:]
            key = string_value(key_tokens[0]) if key_tokens and key_tokens[0].kind == "string" else name_text(key_tokens)
            if len(value_tokens) == 1 and value_tokens[0].kind == "string":
                value = string_value(value_tokens[0])
            else:
                value = name_text(value_tokens)
            found[key] = value
        return found

    def conf_option(self) -> dict[str, str]:
        if not self.settings:
            return {}
        return {"spark_conf": python_dict(self.settings)}

    def flow(self) -> None:
        name = self.name()
        if self.accept("COMMENT"):
            self.string("COMMENT")
        self.expect("AS")
        if self.accept("INSERT"):
            once = self.accept("ONCE")
            self.expect("INTO")
            once = self.accept("ONCE") or once
            target = self.name()
            if self.accept("BY"):
                self.expect("NAME")
            self.append_flow(target, name, once)
        elif self.at("AUTO", "APPLY"):
            self.auto_cdc(name)
        else:
            found = self.peek()
            self.fail(f"a flow is INSERT INTO target BY NAME query or AUTO CDC INTO target ..., not "
                      f"{found.text.upper() if found else 'nothing'}")

    def append_flow(self, target: str, name: str, once: bool) -> None:
        query = self.query(self.rest())
        if self.reads:  # what the flow reads, the target reads
            add_dataset(self.out.datasets, DatasetFacts(target, self.statement.line, "streaming_table", reads=self.reads))
        options = {"target": repr(target), "name": repr(name), **({"once": "True"} if once else {}),
                   **self.conf_option()}
        self.out.add(self.statement.line, f"dp.append_flow({_keywords(options)})({query})")

    def auto_cdc(self, flow_name: str | None, target: str | None = None) -> None:
        if self.accept("APPLY"):
            self.expect("CHANGES")
        else:
            self.expect("AUTO", "CDC")
        if target is None:
            self.expect("INTO")
            target = self.name()
        self.expect("FROM")
        source = self.cdc_source()
        options: dict[str, str] = {"target": repr(target), "source": repr(source)}
        if flow_name is not None:
            options["name"] = repr(flow_name)
        while self.peek() is not None:
            token = self.take()
            if token.is_word("KEYS"):
                options["keys"] = repr(self.name_list())
            elif token.is_word("IGNORE"):
                self.expect("NULL", "UPDATES")
                if self.at("ON"):
                    self.fail("IGNORE NULL UPDATES ON (columns) is not supported on the local engine: use "
                              "IGNORE NULL UPDATES for all columns")
                options["ignore_null_updates"] = "True"
            elif token.is_word("APPLY"):
                self.expect("AS")
                which = self.take()
                if not which.is_word("DELETE", "TRUNCATE"):
                    self.fail("expected APPLY AS DELETE WHEN or APPLY AS TRUNCATE WHEN", which)
                self.expect("WHEN")
                key = "apply_as_deletes" if which.is_word("DELETE") else "apply_as_truncates"
                options[key] = f"F.expr({python_value(self.expression_until(_CDC_CLAUSES))})"
            elif token.is_word("SEQUENCE"):
                self.expect("BY")
                options["sequence_by"] = f"F.expr({python_value(self.expression_until(_CDC_CLAUSES))})"
            elif token.is_word("SYSTEM"):
                self.fail("SYSTEM SEQUENCE BY is not supported on the local engine", token)
            elif token.is_word("COLUMNS"):
                if self.at("TO"):
                    self.fail("COLUMNS TO UPDATE is not supported on the local engine", token)
                kept, excluded = self.columns()
                options["column_list" if kept else "except_column_list"] = repr(kept or excluded)
            elif token.is_word("STORED"):
                self.expect("AS")
                if self.accept("BITEMPORAL"):
                    self.fail("STORED AS BITEMPORAL is not supported on the local engine: use SCD TYPE 1 or 2")
                self.expect("SCD", "TYPE")
                scd = self.take()
                if scd.text not in ("1", "2"):
                    self.fail(f"STORED AS SCD TYPE takes 1 or 2, not {scd.text}", scd)
                options["stored_as_scd_type"] = scd.text
            elif token.is_word("TRACK"):
                self.expect("HISTORY", "ON")
                kept, excluded = self.columns()
                options["track_history_column_list" if kept else "track_history_except_column_list"] = repr(
                    kept or excluded)
            else:
                self.fail(f"unexpected '{token.text}' in AUTO CDC INTO {target}", token)
        for required in ("keys", "sequence_by"):
            if required not in options:
                self.fail(f"AUTO CDC INTO {target} needs {required.upper().replace('_', ' ')}")
        self.out.add(self.statement.line, f"dp.create_auto_cdc_flow({_keywords(options)})")
        add_dataset(self.out.datasets, DatasetFacts(target, self.statement.line, "streaming_table",
                                                    reads=(f"LIVE.{source}" if "." not in source else source,)))

    def cdc_source(self) -> str:
        if self.accept("STREAM"):
            if self.at_punct("("):
                inner = [t for t in self.parenthesized() if t.significant]
                if not inner or not all(t.kind in ("word", "quoted") or t.text == "." for t in inner):
                    self.fail("AUTO CDC reads FROM STREAM(table): a subquery is not supported, define a "
                              "view for it")
                parts = [t.identifier for t in inner if t.text != "."]
                return ".".join(parts[1:] if len(parts) > 1 and parts[0].upper() == "LIVE" else parts)
        if self.at_punct("("):
            self.fail("AUTO CDC reads FROM a table: a subquery is not supported, define a view for it")
        return self.name()

    def columns(self) -> tuple[list[str], list[str]]:
        """`COLUMNS a, b` or `* EXCEPT (a, b)`: (kept, excluded)."""
        if self.at_punct("*"):
            self.take()
            self.expect("EXCEPT")
            return [], self.name_list()
        return self.name_list(), []

    def expression_until(self, stops: set[str]) -> str:
        start = self.pos
        depth = 0
        while self.peek() is not None:
            token = self.peek()
            assert token is not None
            if depth == 0 and token.kind == "word" and token.text.upper() in stops:
                break
            if token.text == "(":
                depth += 1
            elif token.text == ")":
                depth -= 1
            self.pos += 1
        if self.pos == start:
            self.fail("an expression is missing")
        tokens = self.statement.tokens
        begin = index_of(tokens, self.tokens[start])
        end = index_of(tokens, self.tokens[self.pos - 1]) + 1
        return text_of([t for t in tokens[begin:end] if t.kind != "comment"]).strip()

    # queries --------------------------------------------------------------------------------

    def query(self, tokens: list[Token]) -> str:
        """A lambda returning the query's DataFrame, `read_files` / `cloud_files` as DataFrame arguments."""
        if not any(t.significant for t in tokens):
            self.fail("the query after AS is missing")
        depth = 0
        for token in tokens:
            depth += token.text == "(" if token.kind == "punct" else 0
            depth -= token.text == ")" if token.kind == "punct" else 0
            if depth == 0 and token.is_word("CREATE", "SET"):
                self.fail(f"{token.text.upper()} inside a query: end the statement before it with ;", token)
        tokens = [Token(t.kind, _with_settings(t.text, self.settings), t.line) if "${" in t.text else t
                  for t in tokens]
        self.reads = tables_read(text_of(tokens)) or ()
        rewritten, frames = QueryRewriter(tokens, self.path, self.fail).rewrite()
        first = tokens[0].line
        text = "\n" * (first - 1) + rewritten
        arguments = "".join(f", {name}={code}" for name, code in frames.items())
        self.pos = len(self.tokens)
        return f"lambda: _sql({text!r}{arguments})"


_CDC_CLAUSES = {"KEYS", "IGNORE", "APPLY", "SEQUENCE", "SYSTEM", "COLUMNS", "STORED", "TRACK"}


def _with_settings(text: str, settings: dict[str, str]) -> str:
    """`text` with each `${key}` of a key set by an earlier `SET key = value` replaced by its value
    (other references stay, to be read from the pipeline configuration when the code runs)."""
    if "${" not in text or not settings:
        return text
    return re.sub(r"\$\{([^}]*)\}", lambda m: settings.get(m.group(1), m.group(0)), text)


def _keywords(options: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in options.items())
