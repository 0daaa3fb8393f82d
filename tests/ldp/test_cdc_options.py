"""auto_cdc's AUTO CDC options: truncates, column lists, history tracking, ignore_null_updates.

The worked examples are Databricks' own: "AUTO CDC APIs: Simplify change data capture with
pipelines" (docs.databricks.com/aws/en/ldp/cdc), section "Example: SCD type 1 and SCD type 2
processing with CDF source data" (the `users` feed, its TRUNCATE variant and the
`track_history_except_column_list = ["city"]` variant). The parameter semantics are those of
the `create_auto_cdc_flow` reference (docs.databricks.com/aws/en/ldp/developer/ldp-python-ref-apply-changes).

The local path runs through the real open-source `pyspark.pipelines` registration API: the
materialized view `auto_cdc` registers is evaluated on a local Spark session over a temporary
view. The Databricks path is checked the same way where open-source pyspark 4.3 has the
argument; see `test_databricks_passes_truncates_and_ignore_null_updates` for the rest.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import local_resource
from tests.support import reference

USERS_COLUMNS = ("userId", "name", "city", "operation", "sequenceNum")

# The doc's sample change feed, in the doc's order (the sequenceNum 5 batch arrives last).
USERS = [
    (124, "Raul", "Oaxaca", "INSERT", 1),
    (123, "Isabel", "Monterrey", "INSERT", 1),
    (125, "Mercedes", "Tijuana", "INSERT", 2),
    (126, "Lily", "Cancun", "INSERT", 2),
    (123, None, None, "DELETE", 6),
    (125, "Mercedes", "Guadalajara", "UPDATE", 6),
    (125, "Mercedes", "Mexicali", "UPDATE", 5),
    (123, "Isabel", "Chihuahua", "UPDATE", 5),
]
# The doc's tables after the feed: SCD type 1, and type 2 with __START_AT and __END_AT.
DOC_SCD1 = {(124, "Raul", "Oaxaca"), (125, "Mercedes", "Guadalajara"), (126, "Lily", "Cancun")}
DOC_SCD2 = {
    (123, "Isabel", "Monterrey", 1, 5),
    (123, "Isabel", "Chihuahua", 5, 6),
    (124, "Raul", "Oaxaca", 1, None),
    (125, "Mercedes", "Tijuana", 2, 5),
    (125, "Mercedes", "Mexicali", 5, 6),
    (125, "Mercedes", "Guadalajara", 6, None),
    (126, "Lily", "Cancun", 2, None),
}
# The doc's "Uncomment to test TRUNCATE" row.
TRUNCATE = (None, None, None, "TRUNCATE", 3)


class Recorder:
    """A graph element registry (pyspark.pipelines' own interface) that keeps what is defined."""

    def __init__(self) -> None:
        from pyspark.pipelines.graph_element_registry import GraphElementRegistry

        class _Registry(GraphElementRegistry):
            def __init__(self) -> None:
                self.outputs: list[Any] = []
                self.flows: list[Any] = []
                self.auto_cdc_flows: list[Any] = []

            def register_output(self, output: Any) -> None:
                self.outputs.append(output)

            def register_flow(self, flow: Any) -> None:
                self.flows.append(flow)

            def register_auto_cdc_flow(self, flow: Any) -> None:
                self.auto_cdc_flows.append(flow)

            def register_sql(self, sql_text: str, file_path: Any) -> None:
                raise AssertionError("auto_cdc defines no SQL")

        self.registry = _Registry()

    def define(self, **kwargs: Any) -> Any:
        """Call auto_cdc inside a pipeline definition context; returns the registry."""
        from pyspark.pipelines.graph_element_registry import graph_element_registration_context

        from etl_assets.ldp import auto_cdc

        with graph_element_registration_context(self.registry):
            auto_cdc(**kwargs)
        return self.registry


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    # One small session for the whole module: the machine has 2 cores and other suites run Spark.
    session = (
        SparkSession.builder.master("local[2]").appName("etl_assets-cdc-options-test")
        .config("spark.sql.shuffle.partitions", "2").config("spark.ui.enabled", "false").getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture
def local(spark: Any) -> Any:
    spark.conf.set("etl_assets.engine", "local")
    return spark


@pytest.fixture
def databricks(spark: Any) -> Iterator[Any]:
    spark.conf.set("etl_assets.engine", "databricks")
    yield spark
    spark.conf.set("etl_assets.engine", "local")


def users_view(spark: Any, rows: list[tuple], name: str = "users") -> str:
    spark.createDataFrame(rows, "userId int, name string, city string, operation string, sequenceNum int") \
        .createOrReplaceTempView(name)
    return name


def run_local(spark: Any, rows: list[tuple], **options: Any) -> tuple[list[str], set[tuple]]:
    """Define the target with auto_cdc on the local engine, evaluate its query: (columns, rows)."""
    from pyspark.sql import functions as F

    source = users_view(spark, rows)
    registry = Recorder().define(
        target="users_out", source=source, keys=["userId"], sequence_by=F.col("sequenceNum"),
        apply_as_deletes=F.expr("operation = 'DELETE'"), **options,
    )
    [output] = registry.outputs
    [flow] = registry.flows
    assert (type(output).__name__, output.name, flow.target) == ("MaterializedView", "users_out", "users_out")
    df = flow.func()
    found = [tuple(r) for r in df.collect()]
    assert len(found) == len(set(found)), found
    return df.columns, set(found)


DOC_OPTIONS = {"except_column_list": ["operation", "sequenceNum"]}


# --- The doc's worked examples, on the local engine -------------------------------------------

@pytest.mark.slow
def test_doc_scd1_deletes(local: Any) -> None:
    columns, rows = run_local(local, USERS, stored_as_scd_type=1, **DOC_OPTIONS)
    assert columns == ["userId", "name", "city"]
    assert rows == DOC_SCD1


@pytest.mark.slow
def test_doc_scd1_truncate(local: Any) -> None:
    # The doc: with the TRUNCATE row at sequenceNum 3, users 124 and 126 are gone. (A SQL
    # expression string works as well as expr(...), as in create_auto_cdc_flow.)
    columns, rows = run_local(local, [*USERS, TRUNCATE], stored_as_scd_type=1,
                              apply_as_truncates="operation = 'TRUNCATE'", **DOC_OPTIONS)
    assert columns == ["userId", "name", "city"]
    assert rows == {(125, "Mercedes", "Guadalajara")}


@pytest.mark.slow
def test_doc_scd2(local: Any) -> None:
    columns, rows = run_local(local, USERS, stored_as_scd_type="2", **DOC_OPTIONS)
    assert columns == ["userId", "name", "city", "__START_AT", "__END_AT"]
    assert rows == DOC_SCD2


DOC_SCD2_UNTRACKED_CITY = {
    (123, "Isabel", "Chihuahua", 1, 6),
    (124, "Raul", "Oaxaca", 1, None),
    (125, "Mercedes", "Guadalajara", 2, None),
    (126, "Lily", "Cancun", 2, None),
}


@pytest.mark.slow
def test_doc_scd2_track_history_except_city(local: Any) -> None:
    # The doc: city changes update the open row in place instead of opening a new one.
    _, rows = run_local(local, USERS, stored_as_scd_type=2, track_history_except_column_list=["city"],
                        **DOC_OPTIONS)
    assert rows == DOC_SCD2_UNTRACKED_CITY


@pytest.mark.slow
def test_track_history_column_list_is_the_include_form(local: Any) -> None:
    # Tracking only `name` is the same choice as tracking all but `city` (userId is the key).
    _, rows = run_local(local, USERS, stored_as_scd_type=2, track_history_column_list=["name"], **DOC_OPTIONS)
    assert rows == DOC_SCD2_UNTRACKED_CITY


@pytest.mark.slow
def test_column_list_keeps_those_columns_in_that_order(local: Any) -> None:
    columns, rows = run_local(local, USERS, stored_as_scd_type=1, column_list=["city", "userId"])
    assert columns == ["city", "userId"]
    assert rows == {("Oaxaca", 124), ("Guadalajara", 125), ("Cancun", 126)}


# The doc describes ignore_null_updates without a worked table: "columns with a null retain
# their existing values in the target" for an update that matches an existing row. These rows
# extend the doc's feed: a partial update of 124, and 123 coming back after its delete (no
# existing row then, so its nulls stay null).
PARTIAL = [(124, None, "Puebla", "UPDATE", 7), (123, None, "Toluca", "INSERT", 8), (123, "Isa", None, "UPDATE", 9)]
ALL_USER_COLUMNS = {"column_list": ["userId", "name", "city"]}


@pytest.mark.slow
def test_ignore_null_updates_scd1(local: Any) -> None:
    _, kept = run_local(local, USERS + PARTIAL, stored_as_scd_type=1, ignore_null_updates=True, **ALL_USER_COLUMNS)
    assert kept == {(123, "Isa", "Toluca"), (124, "Raul", "Puebla"), (125, "Mercedes", "Guadalajara"),
                    (126, "Lily", "Cancun")}
    _, overwritten = run_local(local, USERS + PARTIAL, stored_as_scd_type=1, **ALL_USER_COLUMNS)
    assert (124, None, "Puebla") in overwritten and (123, "Isa", None) in overwritten


@pytest.mark.slow
def test_ignore_null_updates_scd2(local: Any) -> None:
    _, rows = run_local(local, USERS + PARTIAL, stored_as_scd_type=2, ignore_null_updates=True, **ALL_USER_COLUMNS)
    assert {r for r in rows if r[0] in (123, 124)} == {
        (123, "Isabel", "Monterrey", 1, 5),
        (123, "Isabel", "Chihuahua", 5, 6),
        (123, None, "Toluca", 8, 9),
        (123, "Isa", "Toluca", 9, None),
        (124, "Raul", "Oaxaca", 1, 7),
        (124, "Raul", "Puebla", 7, None),
    }


# --- Against the reference on shuffled random feeds --------------------------------------------

def random_feed(seed: int, events: int = 60) -> list[tuple]:
    """Out-of-order events on 5 keys with repeats, nulls, deletes and (for type 1) truncates."""
    rng = random.Random(seed)
    rows = []
    for seq in rng.sample(range(1, 1000), events):
        operation = rng.choices(["UPSERT", "DELETE", "TRUNCATE"], [16, 3, 1])[0]
        key = None if operation == "TRUNCATE" else rng.randrange(5)
        rows.append((key, rng.choice(["a", "b", None]), rng.choice(["x", "y", None]), operation, seq))
    return rows


def as_events(rows: list[tuple]) -> list[dict]:
    return [{**dict(zip(USERS_COLUMNS, r)), "_seq": r[4]} for r in rows]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("ignore_nulls", [False, True])
def test_random_feeds_equal_the_reference(local: Any, seed: int, ignore_nulls: bool) -> None:
    from pyspark.sql import functions as F

    feed = random_feed(seed)
    events = as_events(feed)
    columns = ("userId", "name", "city")
    is_delete = lambda e: e["operation"] == "DELETE"  # noqa: E731
    no_truncates = [r for r in feed if r[3] != "TRUNCATE"]  # type 2 cannot truncate

    _, scd1 = run_local(local, feed, stored_as_scd_type=1, apply_as_truncates=F.expr("operation = 'TRUNCATE'"),
                        column_list=list(columns), ignore_null_updates=ignore_nulls)
    assert scd1 == reference.apply_changes(
        events, keys=("userId",), columns=columns, scd_type=1, is_delete=is_delete,
        is_truncate=lambda e: e["operation"] == "TRUNCATE", ignore_null_updates=ignore_nulls)

    _, scd2 = run_local(local, no_truncates, stored_as_scd_type=2, track_history_column_list=["name"],
                        column_list=list(columns), ignore_null_updates=ignore_nulls)
    assert scd2 == reference.apply_changes(
        as_events(no_truncates), keys=("userId",), columns=columns, scd_type=2, is_delete=is_delete,
        tracked=("name",), ignore_null_updates=ignore_nulls)


@pytest.mark.slow
def test_scd2_coalesces_unchanged_upserts_by_default(local: Any) -> None:
    # Spark's create_auto_cdc_flow: "two consecutive upsert events for the same key are
    # coalesced into the same history record when they agree on every tracked column".
    feed = [(1, "a", "x", "INSERT", 1), (1, "a", "x", "UPDATE", 2), (1, "b", "x", "UPDATE", 3)]
    _, rows = run_local(local, feed, stored_as_scd_type=2, **DOC_OPTIONS)
    assert rows == {(1, "a", "x", 1, 3), (1, "b", "x", 3, None)}
    # Nothing tracked: one row per key, updated in place.
    _, rows = run_local(local, feed, stored_as_scd_type=2, track_history_except_column_list=["name", "city"],
                        **DOC_OPTIONS)
    assert rows == {(1, "b", "x", 1, None)}


# --- Invalid combinations: a ValueError when the pipeline is defined ---------------------------

@pytest.mark.parametrize(("options", "names"), [
    ({"stored_as_scd_type": 2, "apply_as_truncates": "TRUNCATE"}, ["apply_as_truncates", "stored_as_scd_type=1"]),
    ({"column_list": ["a"], "except_column_list": ["b"]}, ["column_list", "except_column_list"]),
    ({"track_history_column_list": ["a"]}, ["track_history_column_list", "stored_as_scd_type=2"]),
    ({"stored_as_scd_type": 2, "track_history_column_list": ["a"], "track_history_except_column_list": ["b"]},
     ["track_history_column_list", "track_history_except_column_list"]),
    ({"stored_as_scd_type": 3}, ["stored_as_scd_type", "1 or 2"]),
    ({"keys": "id"}, ["keys", "['id']"]),
    ({"keys": []}, ["keys"]),
])
def test_invalid_combinations_are_refused_at_definition(options: dict, names: list[str]) -> None:
    pytest.importorskip("pyspark.pipelines")
    from etl_assets.ldp import auto_cdc

    if options.get("apply_as_truncates") == "TRUNCATE":
        options = {**options, "apply_as_truncates": object()}  # any condition: refused before use
    arguments = {"target": "t", "source": "s", "keys": ["id"], "sequence_by": None, **options}
    # No Spark session and no pipeline context are needed: the check comes first.
    with pytest.raises(ValueError) as error:
        auto_cdc(**arguments)
    for name in names:
        assert name in str(error.value)


@pytest.mark.slow
def test_local_ignore_null_updates_needs_column_list(local: Any) -> None:
    from pyspark.sql import functions as F

    with pytest.raises(ValueError, match="ignore_null_updates on the local engine needs column_list"):
        Recorder().define(target="t", source="s", keys=["id"], sequence_by=F.col("s"), ignore_null_updates=True,
                          stored_as_scd_type=2)


# --- The Databricks path: the arguments create_auto_cdc_flow receives -------------------------

@pytest.mark.slow
def test_databricks_registers_a_streaming_table_and_the_auto_cdc_flow(databricks: Any) -> None:
    from pyspark.sql import functions as F

    registry = Recorder().define(
        target="users_history", source="users", keys=["userId"], sequence_by=F.col("sequenceNum"),
        apply_as_deletes=F.expr("operation = 'DELETE'"), except_column_list=["operation", "sequenceNum"],
        stored_as_scd_type=2, track_history_except_column_list=["city"], comment="history",
    )
    [table] = registry.outputs
    assert (type(table).__name__, table.name, table.comment) == ("StreamingTable", "users_history", "history")
    assert registry.flows == []
    [flow] = registry.auto_cdc_flows
    names = lambda columns: None if columns is None else [str(c) for c in columns]  # noqa: E731
    assert (flow.target, flow.source, str(flow.stored_as_scd_type)) == ("users_history", "users", "2")
    assert names(flow.keys) == names([F.col("userId")])
    assert names(flow.except_column_list) == names([F.col("operation"), F.col("sequenceNum")])
    assert names(flow.track_history_except_column_list) == names([F.col("city")])
    assert flow.column_list is None and flow.track_history_column_list is None
    assert str(flow.sequence_by) == str(F.col("sequenceNum"))
    assert str(flow.apply_as_deletes) == str(F.expr("operation = 'DELETE'"))

    registry = Recorder().define(target="users_current", source="users", keys=["userId"],
                                 sequence_by=F.col("sequenceNum"), column_list=["userId", "city"],
                                 stored_as_scd_type=1)
    [flow] = registry.auto_cdc_flows
    assert names(flow.column_list) == names([F.col("userId"), F.col("city")])
    assert flow.except_column_list is None and flow.apply_as_deletes is None


def databricks_create_auto_cdc_flow(
    target: str, source: str, keys: list, sequence_by: Any, ignore_null_updates: bool = False,
    apply_as_deletes: Any = None, apply_as_truncates: Any = None, column_list: list | None = None,
    except_column_list: list | None = None, stored_as_scd_type: Any = 1,
    track_history_column_list: list | None = None, track_history_except_column_list: list | None = None,
    name: str | None = None, once: bool = False,
) -> None:
    """The signature in Databricks' create_auto_cdc_flow reference ("Syntax"), nothing more."""


@pytest.mark.slow
def test_databricks_passes_truncates_and_ignore_null_updates(databricks: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Open-source pyspark 4.3's create_auto_cdc_flow has neither apply_as_truncates nor
    # ignore_null_updates (Databricks' has both), so the real registration cannot take them: a
    # stand-in with the documented Databricks signature records the call instead.
    from pyspark import pipelines as dp
    from pyspark.sql import functions as F

    calls: list[inspect.BoundArguments] = []
    signature = inspect.signature(databricks_create_auto_cdc_flow)
    monkeypatch.setattr(dp, "create_auto_cdc_flow", lambda **kw: calls.append(signature.bind(**kw)))
    truncates = F.expr("operation = 'TRUNCATE'")
    registry = Recorder().define(
        target="users_current", source="users", keys=["userId"], sequence_by=F.col("sequenceNum"),
        apply_as_truncates=truncates, ignore_null_updates=True, column_list=["userId", "name", "city"],
    )
    assert [o.name for o in registry.outputs] == ["users_current"]
    [call] = calls
    assert call.arguments["apply_as_truncates"] is truncates
    assert call.arguments["ignore_null_updates"] is True
    assert call.arguments["column_list"] == ["userId", "name", "city"]
    assert call.arguments["stored_as_scd_type"] == 1

    # Unset options are left to Databricks' defaults rather than passed.
    calls.clear()
    Recorder().define(target="t", source="s", keys=["k"], sequence_by=F.col("q"))
    assert set(calls[0].arguments) == {"target", "source", "keys", "sequence_by", "stored_as_scd_type"}


# --- One real local pipeline run: the options inside Spark Declarative Pipelines ---------------

FEED_FILE = '''from pyspark import pipelines as dp
from pyspark.sql import SparkSession

# Built outside the query function: parsing the schema is an analysis, refused inside one.
FEED = SparkSession.active().createDataFrame(
    {rows!r}, "userId int, name string, city string, operation string, sequenceNum int")


@dp.materialized_view(name={name!r})
def feed():
    return FEED
'''

CDC_FILE = '''from pyspark.sql import functions as F

from etl_assets.ldp import auto_cdc

auto_cdc(target={target!r}, source={source!r}, keys=["userId"], sequence_by=F.col("sequenceNum"),
         apply_as_deletes=F.expr("operation = 'DELETE'"), {options})
'''


@pytest.mark.slow
def test_options_in_a_local_pipeline_run(local_home: Any, project: Any) -> None:
    # The query functions run inside a real pipeline on Spark Connect, where an eagerly analyzed
    # read would lose its dependency on its feed (see etl_assets.ldp.cdc.scd): the targets must
    # still come out as the doc says.
    from dagster import instance_for_test, materialize

    from etl_assets.dagster.assets import build_table_assets
    from etl_assets.engines.local.tables import read_rows
    from etl_assets.project.load import load_config

    feeds = {"feed_truncated": [*USERS, TRUNCATE, *PARTIAL], "feed_doc": USERS, "feed_partial": USERS + PARTIAL}
    targets = {  # target: (source, options)
        "users_current": ("feed_truncated", "apply_as_truncates=F.expr(\"operation = 'TRUNCATE'\"), "
                                            "except_column_list=['operation', 'sequenceNum']"),
        "users_history": ("feed_doc", "stored_as_scd_type=2, track_history_except_column_list=['city'], "
                                      "except_column_list=['operation', 'sequenceNum']"),
        "users_partial": ("feed_partial", "ignore_null_updates=True, column_list=['userId', 'name', 'city']"),
    }
    config = project("pipelines:\n  users: {name: users}\ntables:\n" + "".join(
        f"  - {{name: {f}, layer: bronze}}\n" for f in feeds) + "".join(
        f"  - {{name: {t}, layer: silver, depends_on: [{s}]}}\n" for t, (s, _) in targets.items()), files=False)
    root = config.parent
    (root / "transformations" / "bronze").mkdir(parents=True)
    (root / "transformations" / "silver").mkdir(parents=True)
    for name, feed in feeds.items():
        (root / "transformations" / "bronze" / f"{name}.py").write_text(FEED_FILE.format(name=name, rows=feed))
    for target, (source, options) in targets.items():
        (root / "transformations" / "silver" / f"{target}.py").write_text(
            CDC_FILE.format(target=target, source=source, options=options))

    with instance_for_test() as instance:
        result = materialize(build_table_assets(load_config(config)), instance=instance,
                             resources={"engine": local_resource()}, raise_on_error=False)
    assert result.success, [f.step_failure_data.error.message for f in result.get_step_failure_events()]

    def rows(table: str) -> set[tuple]:
        columns, found = read_rows(local_home.table_location(table))
        return {tuple(r[c] for c in columns) for r in found}

    # The doc's truncate example, plus the extra events of PARTIAL after the truncate.
    assert rows("users_current") == {(125, "Mercedes", "Guadalajara"), (124, None, "Puebla"), (123, "Isa", None)}
    assert rows("users_history") == DOC_SCD2_UNTRACKED_CITY
    assert rows("users_partial") == {(123, "Isa", "Toluca"), (124, "Raul", "Puebla"), (125, "Mercedes", "Guadalajara"),
                                     (126, "Lily", "Cancun")}
