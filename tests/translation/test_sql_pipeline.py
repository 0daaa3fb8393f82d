"""Pipeline SQL translated to Python that uses the Databricks pipeline API (no Spark needed):
the generated code is read back as Python and its calls are checked."""

from __future__ import annotations

import ast
import textwrap
from typing import Any

import pytest

from etl_assets.translation.sql_pipeline import PRELUDE, python_of_sql, translate_sql
from etl_assets.translation.sql_text import SourceError, split_statements


def translate(sql: str) -> str:
    code = python_of_sql(textwrap.dedent(sql).lstrip("\n"), "t.sql")
    compile(code, "t.sql", "exec")
    return code


def dp_calls(code: str, name: str) -> list[ast.Call]:
    """Calls of `dp.<name>` in the generated code, in order."""
    found = [node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr == name
             and isinstance(node.func.value, ast.Name) and node.func.value.id == "dp"]
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def one(code: str, name: str) -> ast.Call:
    calls = dp_calls(code, name)
    assert len(calls) == 1, f"expected one dp.{name} call, found {len(calls)}:\n{code}"
    return calls[0]


def kwargs(call: ast.Call) -> dict[str, Any]:
    """Keyword arguments: literals as values, anything else as source text."""
    out: dict[str, Any] = {}
    for keyword in call.keywords:
        try:
            out[str(keyword.arg)] = ast.literal_eval(keyword.value)
        except ValueError:
            out[str(keyword.arg)] = ast.unparse(keyword.value)
    return out


def query_of(call: ast.Call) -> tuple[str, dict[str, str]]:
    """The SQL text and DataFrame arguments of the `lambda: _sql(...)` a definition wraps."""
    node: ast.expr = call
    while not isinstance(node, ast.Lambda):
        assert isinstance(node, ast.Call), ast.unparse(node)
        node = node.args[0]
    body = node.body
    assert isinstance(body, ast.Call) and isinstance(body.func, ast.Name) and body.func.id == "_sql"
    return ast.literal_eval(body.args[0]), {str(k.arg): ast.unparse(k.value) for k in body.keywords}


def wrappers(call: ast.Call) -> list[tuple[str, str, str]]:
    """The expectation decorators around a definition's query, outermost first."""
    found = []
    node = call.args[0]
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Call):
        inner = node.func
        assert isinstance(inner.func, ast.Attribute)
        found.append((inner.func.attr, *(ast.literal_eval(a) for a in inner.args)))
        node = node.args[0]
    return found


def definition(code: str, decorator: str) -> ast.Call:
    """The `dp.<decorator>(...)(query)` call: the outer call whose function is the decorator call."""
    inner = one(code, decorator)
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Call) and node.func.lineno == inner.lineno \
                and node.func.col_offset == inner.col_offset:
            return node
    raise AssertionError(f"dp.{decorator} is not applied to a query")


def test_streaming_table_over_read_files_reads_with_auto_loader():
    code = translate("""
        -- raw customers
        CREATE OR REFRESH STREAMING TABLE customers_cdc_bronze
        COMMENT 'raw change events; as landed'
        AS SELECT *, current_timestamp() AS loaded_at
        FROM STREAM read_files('${etl_assets.landing_path}/customers', format => 'json',
                               inferColumnTypes => true, multiLine => 'false');
    """)
    table = definition(code, "table")
    assert kwargs(table.func) == {"name": "customers_cdc_bronze", "comment": "raw change events; as landed"}
    sql, frames = query_of(table)
    assert sql.lstrip("\n") == "SELECT *, current_timestamp() AS loaded_at\nFROM {__files_0}"
    assert frames["__files_0"] == (
        "spark.readStream.format('cloudFiles').options(**{'cloudFiles.format': 'json', "
        "'cloudFiles.inferColumnTypes': 'true', 'multiLine': 'false'})"
        ".load(_conf('${etl_assets.landing_path}/customers'))")


def test_read_files_without_stream_is_a_batch_read_and_cloud_files_always_streams():
    code = translate("""
        CREATE MATERIALIZED VIEW a AS SELECT * FROM read_files('/in/a', format => 'csv', header => true,
                                                              schema => 'id INT, name STRING');
        CREATE STREAMING LIVE TABLE b AS SELECT * FROM cloud_files("/in/b", "json", map("cloudFiles.inferColumnTypes", "true"));
        CREATE STREAMING TABLE c AS SELECT * FROM STREAM(read_files('/in/c', format => 'parquet'));
    """)
    frames = [query_of(c)[1]["__files_0"] for c in (definition(code, "materialized_view"),)]
    assert frames == ["spark.read.format('cloudFiles').options(**{'cloudFiles.format': 'csv', 'header': 'true'})"
                      ".schema('id INT, name STRING').load('/in/a')"]
    b, c = sorted((n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call)
                   and isinstance(n.func, ast.Call) and getattr(n.func.func, "attr", None) == "table"),
                  key=lambda n: n.lineno)
    assert query_of(b)[1]["__files_0"] == (
        "spark.readStream.format('cloudFiles').options(**{'cloudFiles.format': 'json', "
        "'cloudFiles.inferColumnTypes': 'true'}).load('/in/b')")
    sql, frames_c = query_of(c)
    assert sql.strip() == "SELECT * FROM {__files_0}"
    assert frames_c["__files_0"].startswith("spark.readStream.format('cloudFiles')")


def test_constraints_become_expectations_in_order_with_their_actions_and_columns_a_schema():
    code = translate("""
        CREATE OR REFRESH STREAMING TABLE customers_cdc_clean (
          id STRING NOT NULL COMMENT 'the key',
          operation STRING,
          address STRUCT<street: STRING, zip: INT>,
          CONSTRAINT small EXPECT (n < 5),
          CONSTRAINT large EXPECT (n > 1),
          CONSTRAINT no_rescued_data EXPECT (_rescued_data IS NULL) ON VIOLATION DROP ROW,
          CONSTRAINT valid_operation EXPECT (operation IN ('APPEND', 'DELETE', 'UPDATE')) ON VIOLATION FAIL UPDATE,
          CONSTRAINT `has email` EXPECT (email   LIKE '%@%')
        )
        PARTITIONED BY (operation) CLUSTER BY (id) TBLPROPERTIES ('quality' = 'silver', delta.x = 'y')
        AS SELECT * FROM STREAM(LIVE.customers_cdc_bronze)
    """)
    table = definition(code, "table")
    assert kwargs(table.func) == {
        "name": "customers_cdc_clean", "partition_cols": ["operation"], "cluster_by": ["id"],
        "table_properties": {"quality": "silver", "delta.x": "y"},
        "schema": "id STRING NOT NULL COMMENT 'the key', operation STRING, address STRUCT<street: STRING, zip: INT>",
    }
    assert wrappers(table) == [
        ("expect", "small", "n < 5"),
        ("expect", "large", "n > 1"),
        ("expect_or_drop", "no_rescued_data", "_rescued_data IS NULL"),
        ("expect_or_fail", "valid_operation", "operation IN ('APPEND', 'DELETE', 'UPDATE')"),
        ("expect", "has email", "email LIKE '%@%'"),
    ]
    sql, frames = query_of(table)
    assert sql.strip() == "SELECT * FROM {__stream_0} AS customers_cdc_bronze"
    assert frames == {"__stream_0": "spark.readStream.table('customers_cdc_bronze')"}


@pytest.mark.parametrize(("head", "decorator", "extra"), [
    ("CREATE MATERIALIZED VIEW", "materialized_view", {}),
    ("CREATE OR REFRESH LIVE TABLE", "materialized_view", {}),
    ("CREATE OR REFRESH PRIVATE MATERIALIZED VIEW", "materialized_view", {"private": True}),
    ("CREATE TEMPORARY LIVE TABLE", "materialized_view", {"private": True}),
    ("CREATE OR REFRESH STREAMING LIVE TABLE", "table", {}),
    ("CREATE PRIVATE STREAMING TABLE", "table", {"private": True}),
    ("CREATE TEMPORARY STREAMING LIVE TABLE", "table", {"private": True}),
    ("CREATE TEMPORARY VIEW", "temporary_view", {}),
    ("CREATE TEMPORARY LIVE VIEW", "temporary_view", {}),
    ("CREATE LIVE VIEW", "temporary_view", {}),
    ("CREATE OR REPLACE VIEW", "materialized_view", {}),
    ("CREATE VIEW IF NOT EXISTS", "materialized_view", {}),
])
def test_each_dataset_head_maps_to_its_python_definition(head, decorator, extra):
    code = translate(f"{head} x AS SELECT 1 AS one")
    assert kwargs(definition(code, decorator).func) == {"name": "x", **extra}


def test_live_and_stream_references_are_rewritten_outside_strings_and_comments():
    code = translate("""
        CREATE MATERIALIZED VIEW j AS
        SELECT a.id, 'LIVE.keep', "STREAM keep" AS s, stream kept, '{braces}' -- LIVE.comment
        FROM STREAM LIVE.a AS a JOIN LIVE.b ON a.id = b.id
        JOIN STREAM `my db`.c USING (id) LEFT JOIN STREAM(LIVE.d) dd USING (id)
    """)
    sql, frames = query_of(definition(code, "materialized_view"))
    # Streams are DataFrame arguments: the query is seen to stream without being analyzed; a
    # stream without an alias keeps its name as one.
    assert sql.strip() == textwrap.dedent("""
        SELECT a.id, 'LIVE.keep', "STREAM keep" AS s, stream kept, '{{braces}}' -- LIVE.comment
        FROM {__stream_0} AS a JOIN b ON a.id = b.id
        JOIN {__stream_1} AS c USING (id) LEFT JOIN {__stream_2} dd USING (id)""").strip()
    assert frames == {"__stream_0": "spark.readStream.table('a')",
                      "__stream_1": "spark.readStream.table('`my db`.c')",
                      "__stream_2": "spark.readStream.table('d')"}


def test_three_part_names_after_from_and_join_are_read_as_tables_by_name():
    code = translate("""
        CREATE MATERIALIZED VIEW trips AS SELECT t.fare, z.zone FROM samples.nyctaxi.trips t
        JOIN main.ref.`zones` ON t.zip = zones.zip
        JOIN sales.orders o ON o.id = t.id, other
        WHERE t.fare > 0;
    """)
    text, frames = query_of(definition(code, "materialized_view"))
    assert frames == {"__table_0": "spark.read.table('samples.nyctaxi.trips')",
                      "__table_1": "spark.read.table('main.ref.zones')"}
    # Two-part and one-part names stay for Spark; the alias of the table, or its own name, is kept.
    assert text.strip() == ("SELECT t.fare, z.zone FROM {__table_0} t\n"
                            "JOIN {__table_1} AS zones ON t.zip = zones.zip\n"
                            "JOIN sales.orders o ON o.id = t.id, other\n"
                            "WHERE t.fare > 0")


def test_statements_split_at_semicolons_outside_strings_and_keep_their_lines():
    sql = "SET a = 'x;y';\n\n/* one; */ CREATE MATERIALIZED VIEW t AS\nSELECT ';' AS s -- ;\n;\nCREATE VIEW u AS SELECT 1"
    statements = split_statements(sql, "t.sql")
    assert [s.line for s in statements] == [1, 3, 6]
    assert statements[1].text.startswith("CREATE MATERIALIZED VIEW t")
    code = translate(sql)
    lines = code.split("\n")
    assert lines[2].startswith("dp.materialized_view(name='t'")
    assert lines[5].startswith("dp.materialized_view(name='u'")
    assert lines[0].startswith(PRELUDE)
    # The query text is padded: Spark's `line N` in a parse error is the file's line N.
    query = query_of(dp_outer(code, 2))[0]
    assert query.split("\n").index("SELECT ';' AS s") == 3


def dp_outer(code: str, line_index: int) -> ast.Call:
    """The outermost call on a line of the generated code."""
    tree = ast.parse(code)
    found = [s.value for s in tree.body if s.lineno == line_index + 1 and isinstance(s, ast.Expr)
             and isinstance(s.value, ast.Call) and isinstance(s.value.func, (ast.Call, ast.Attribute))
             and not (isinstance(s.value.func, ast.Name))]
    found = [c for c in found if not (isinstance(c.func, ast.Name) and c.func.id == "exec")]
    assert found, f"no statement on line {line_index + 1}"
    return found[-1]


def test_streaming_table_without_query_and_apply_changes_into_it():
    code = translate("""
        CREATE OR REFRESH STREAMING TABLE customers (
          CONSTRAINT valid_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW,
          CONSTRAINT fresh EXPECT (year > 2000)
        ) COMMENT 'SCD1';

        APPLY CHANGES INTO LIVE.customers
        FROM STREAM(LIVE.customers_cdc_clean)
        KEYS (id)
        APPLY AS DELETE WHEN operation = "DELETE"
        APPLY AS TRUNCATE WHEN operation = 'TRUNCATE'
        SEQUENCE BY operation_date
        COLUMNS * EXCEPT (operation, operation_date, _rescued_data)
        STORED AS SCD TYPE 1;
    """)
    assert kwargs(one(code, "create_streaming_table")) == {
        "name": "customers", "comment": "SCD1", "expect_all_or_drop": {"valid_id": "id IS NOT NULL"},
        "expect_all": {"fresh": "year > 2000"},
    }
    flow = one(code, "create_auto_cdc_flow")
    assert flow.lineno == 6
    assert kwargs(flow) == {
        "target": "customers", "source": "customers_cdc_clean", "keys": ["id"],
        "apply_as_deletes": "F.expr('operation = \"DELETE\"')",
        "apply_as_truncates": "F.expr(\"operation = 'TRUNCATE'\")",
        "sequence_by": "F.expr('operation_date')",
        "except_column_list": ["operation", "operation_date", "_rescued_data"], "stored_as_scd_type": 1,
    }


def test_auto_cdc_forms_scd2_tracking_columns_and_named_flows():
    code = translate("""
        CREATE OR REFRESH STREAMING TABLE history;
        CREATE FLOW history_flow AS AUTO CDC INTO history FROM STREAM changes KEYS (id, region)
          IGNORE NULL UPDATES SEQUENCE BY struct(ts, seq) COLUMNS id, region, name
          STORED AS SCD TYPE 2 TRACK HISTORY ON * EXCEPT (name);
        CREATE OR REFRESH STREAMING TABLE latest FLOW AUTO CDC FROM STREAM(changes) KEYS (id) SEQUENCE BY ts
          TRACK HISTORY ON name, region STORED AS SCD TYPE 2;
    """)
    first, second = dp_calls(code, "create_auto_cdc_flow")
    assert kwargs(first) == {
        "target": "history", "source": "changes", "name": "history_flow", "keys": ["id", "region"],
        "ignore_null_updates": True, "sequence_by": "F.expr('struct(ts, seq)')",
        "column_list": ["id", "region", "name"], "stored_as_scd_type": 2,
        "track_history_except_column_list": ["name"],
    }
    assert kwargs(second) == {"target": "latest", "source": "changes", "keys": ["id"],
                              "sequence_by": "F.expr('ts')", "track_history_column_list": ["name", "region"],
                              "stored_as_scd_type": 2}
    assert [kwargs(c)["name"] for c in dp_calls(code, "create_streaming_table")] == ["history", "latest"]


def test_statements_end_at_notebook_cell_separators_without_the_notebook_header():
    code = translate("""
        CREATE STREAMING TABLE a AS SELECT * FROM STREAM(raw)

        -- COMMAND ----------

        -- a comment
        CREATE MATERIALIZED VIEW b AS SELECT '-- COMMAND ----------' AS s FROM a
        -- COMMAND ----------
        CREATE MATERIALIZED VIEW c AS SELECT count(*) AS n FROM b -- COMMAND ----------
    """)
    assert [(kwargs(c)["name"], c.lineno) for c in dp_calls(code, "table")] == [("a", 1)]
    assert [(kwargs(c)["name"], c.lineno) for c in dp_calls(code, "materialized_view")] == [("b", 6), ("c", 8)]
    # Only a line of its own separates: inside a string or after code it is text or a comment.
    assert "'-- COMMAND ----------' AS s" in query_of(dp_outer(code, 5))[0]


def test_flows_append_into_a_streaming_table():
    code = translate("""
        CREATE STREAMING TABLE events;
        CREATE FLOW from_web AS INSERT INTO events BY NAME SELECT * FROM STREAM(web);
        CREATE FLOW backfill AS INSERT INTO ONCE events BY NAME SELECT * FROM old_events;
        CREATE STREAMING TABLE mobile_events FLOW INSERT BY NAME SELECT * FROM STREAM mobile;
        -- Without BY NAME (the Spark guide, earlier Databricks examples): the same flow.
        CREATE FLOW from_app AS INSERT INTO events SELECT * FROM STREAM(app);
        CREATE STREAMING TABLE tv_events FLOW INSERT SELECT * FROM STREAM tv;
    """)
    flows = [(kwargs(c), c.lineno) for c in dp_calls(code, "append_flow")]
    assert flows == [({"target": "events", "name": "from_web"}, 2),
                     ({"target": "events", "name": "backfill", "once": True}, 3),
                     ({"target": "mobile_events", "name": "mobile_events"}, 4),
                     ({"target": "events", "name": "from_app"}, 6),
                     ({"target": "tv_events", "name": "tv_events"}, 7)]
    assert [kwargs(c)["name"] for c in dp_calls(code, "create_streaming_table")] == [
        "events", "mobile_events", "tv_events"]


def test_set_applies_to_the_definitions_after_it():
    code = translate("""
        CREATE MATERIALIZED VIEW before AS SELECT 1;
        SET spark.sql.shuffle.partitions = 2;
        SET my.path = ${etl_assets.landing_path}/x;
        CREATE MATERIALIZED VIEW after AS SELECT 1;
    """)
    before, after = dp_calls(code, "materialized_view")
    assert "spark_conf" not in kwargs(before)
    assert kwargs(after)["spark_conf"] == (
        "{'spark.sql.shuffle.partitions': '2', 'my.path': _conf('${etl_assets.landing_path}/x')}")


def test_set_forms_and_set_values_in_later_queries():
    code = translate("""
        SET
          spark.source;
        SET;
        SET -v;
        SET start.date='2020-01-01';
        SET my.region = eu -- a comment
        ;
        CREATE MATERIALIZED VIEW recent AS SELECT * FROM events WHERE day > ${start.date}
          AND region = '${my.region}' AND source = '${source}';
    """)
    call = definition(code, "materialized_view")
    # Spark's SET keeps the value as written (quotes too); `SET key` alone only shows a value.
    assert kwargs(one(code, "materialized_view"))["spark_conf"] == {"start.date": "'2020-01-01'", "my.region": "eu"}
    text, _ = query_of(call)
    assert text.strip() == ("SELECT * FROM events WHERE day > '2020-01-01'\n"
                            "  AND region = 'eu' AND source = '${source}'")


class _Conf:
    def __init__(self, values: dict[str, str]):
        self.values = values

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)


class _Spark:
    """Records what the generated code asks of Spark: only `conf.get` and `sql` are used."""

    def __init__(self, values: dict[str, str]):
        self.conf = _Conf(values)
        self.queries: list[tuple[str, dict[str, Any]]] = []

    def sql(self, text: str, **frames: Any) -> str:
        self.queries.append((text, frames))
        return "df"


def helpers(values: dict[str, str]) -> dict[str, Any]:
    """The prelude's helper functions, bound to a Spark that has `values` as configuration."""
    namespace: dict[str, Any] = {"spark": _Spark(values), "__file__": "t.sql"}
    exec(compile(PRELUDE.split("; ", 2)[2], "t.sql", "exec"), namespace)
    return namespace


def test_configuration_references_are_read_when_the_query_runs():
    code = translate("""
        CREATE MATERIALIZED VIEW t AS SELECT '${my.region}' AS region, '{x}' AS braces
        FROM read_files('${root}/x', format => 'json');
        CREATE MATERIALIZED VIEW u AS SELECT '${my.region}' AS region, '{x}' AS braces;
    """)
    t, u = (query_of(dp_outer(code, i)) for i in (0, 2))
    assert t[1]["__files_0"].endswith(".load(_conf('${root}/x'))")
    namespace = helpers({"my.region": "eu", "root": "/data"})
    assert namespace["_conf"]("${root}/x") == "/data/x"
    namespace["_sql"](t[0], __files_0="frame")
    namespace["_sql"](u[0])
    (with_frames, frames), (plain, _) = namespace["spark"].queries
    # With DataFrame arguments spark.sql formats the text: literal braces are doubled.
    assert with_frames.strip() == "SELECT 'eu' AS region, '{{x}}' AS braces\nFROM {__files_0}"
    assert frames == {"__files_0": "frame"}
    assert plain.strip() == "SELECT 'eu' AS region, '{x}' AS braces"
    with pytest.raises(KeyError, match=r"no 'my.region': add my.region to the pipeline's configuration"):
        helpers({})["_sql"](u[0])


@pytest.mark.parametrize(("sql", "line", "message"), [
    ("CREATE MATERIALIZED VIEW a AS SELECT 1;\n\nSELECT * FROM a", 3, "'SELECT' statements are not pipeline"),
    ("CREATE TABLE t AS SELECT 1", 1, "CREATE TABLE is not a pipeline dataset"),
    ("\nCREATE STREAMING TABLE t (\n  id INT,\n  CONSTRAINT pk PRIMARY KEY (id)\n)", 4,
     "constraint 'pk': only expectations"),
    ("CREATE STREAMING TABLE t (\n  PRIMARY KEY (id)\n)", 2, "table constraint PRIMARY is not supported"),
    ("CREATE STREAMING TABLE t (CONSTRAINT c EXPECT (x > 0) ON VIOLATION QUARANTINE) AS SELECT 1", 1,
     "expected ON VIOLATION DROP ROW or ON VIOLATION FAIL UPDATE"),
    ("CREATE MATERIALIZED VIEW t\nLOCATION '/x' AS SELECT 1", 2, "the clause LOCATION is not supported"),
    ("CREATE STREAMING TABLE t AS\nSELECT * FROM STREAM read_files('/x')", 2, "name the file format"),
    ("CREATE STREAMING TABLE t AS SELECT * FROM STREAM read_files('/x', format => lower('JSON'))", 1,
     "option format must be a literal"),
    ("CREATE MATERIALIZED VIEW t AS SELECT 'oops", 1, "unterminated string literal"),
    ("CREATE MATERIALIZED VIEW t AS SELECT 1\nCREATE MATERIALIZED VIEW u AS SELECT 2", 2,
     "CREATE inside a query: end the statement before it with ;"),
    ("CREATE MATERIALIZED VIEW t", 1, "materialized view 't' has no query"),
    ("APPLY CHANGES INTO t FROM STREAM(s) KEYS (id)", 1, "needs SEQUENCE BY"),
    ("AUTO CDC INTO t FROM s KEYS (id) SEQUENCE BY ts\nIGNORE NULL UPDATES ON (a)", 2, "IGNORE NULL UPDATES ON"),
    ("AUTO CDC INTO t FROM s KEYS (id) SEQUENCE BY ts STORED AS BITEMPORAL", 1, "BITEMPORAL"),
    ("AUTO CDC INTO t FROM (SELECT * FROM s) KEYS (id) SEQUENCE BY ts", 1, "a subquery is not supported"),
    ("SET VAR x = 1", 1, "SET VARIABLE"),
    ("CREATE FLOW f AS MERGE INTO t", 1, "a flow is INSERT INTO target BY NAME query or AUTO CDC"),
])
def test_untranslatable_sql_names_the_construct_file_and_line(sql, line, message):
    with pytest.raises(SourceError) as raised:
        python_of_sql(sql, "transformations/silver/t.sql")
    assert raised.value.line == line
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"transformations/silver/t.sql:{line}: ")


def test_datasets_and_expectations_of_sql_are_known_statically():
    translation = translate_sql(textwrap.dedent("""
        CREATE STREAMING TABLE raw AS SELECT * FROM STREAM read_files('/x', format => 'json');
        CREATE OR REFRESH STREAMING TABLE clean (
          CONSTRAINT valid_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW
        ) AS SELECT * FROM STREAM raw;
        CREATE OR REFRESH STREAMING TABLE customers;
        APPLY CHANGES INTO LIVE.customers FROM STREAM(LIVE.clean) KEYS (id) SEQUENCE BY ts;
        CREATE PRIVATE MATERIALIZED VIEW helper AS SELECT 1;
        CREATE TEMPORARY VIEW v AS SELECT 1;
        CREATE VIEW published AS SELECT 1;
    """).lstrip("\n"), "t.sql")
    facts = {name: (f.line, f.kind, f.private, [(e.name, e.condition, e.action) for e in f.expectations])
             for name, f in translation.datasets.items()}
    assert facts == {
        "raw": (1, "streaming_table", False, []),
        "clean": (2, "streaming_table", False, [("valid_id", "id IS NOT NULL", "drop")]),
        "customers": (5, "streaming_table", False, []),
        "helper": (7, "materialized_view", True, []),
        "v": (8, "temporary_view", False, []),
        "published": (9, "view", False, []),
    }
