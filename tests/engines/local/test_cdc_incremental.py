"""Incremental AUTO CDC on the local engine: after every batch of changes, the kept target that
took only the new rows equals the full recompute (today's `scd`, computed beside it in the same
run) and, for Databricks' documented example, the documented tables."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from itertools import count

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.engines.local.compat.conftest import Pipelines, pipelines_on_a_new_home
from tests.ldp.test_cdc_options import DOC_SCD1, DOC_SCD2, USERS

pytestmark = pytest.mark.slow

# The change feed: a streaming table over the landed JSON files; four AUTO CDC targets with the
# options under test, and for each the full recompute as a materialized view of its own.
CODE = """
    import dlt
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    from etl_assets.ldp.cdc import scd

    SCHEMA = StructType([StructField("id", LongType()), StructField("name", StringType()),
                         StructField("city", StringType()), StructField("op", StringType()),
                         StructField("seq", LongType())])
    DELETE = "op = 'DELETE'"
    TRUNCATE = "op = 'TRUNCATE'"

    @dlt.table(name="{p}_changes")
    def changes():
        return spark.readStream.format("json").schema(SCHEMA).load(spark.conf.get("etl_assets.landing_path") + "/{p}")

    TARGETS = {{
        "scd1": dict(stored_as_scd_type=1, apply_as_deletes=DELETE, apply_as_truncates=TRUNCATE,
                     except_column_list=["op"]),
        "nulls": dict(stored_as_scd_type=1, apply_as_deletes=DELETE, ignore_null_updates=True,
                      column_list=["id", "name", "city"]),
        "scd2": dict(stored_as_scd_type=2, apply_as_deletes=DELETE, except_column_list=["op", "seq"]),
        "tracked": dict(stored_as_scd_type=2, apply_as_deletes=DELETE, except_column_list=["op", "seq"],
                        track_history_column_list=["city"]),
    }}

    for kind, options in TARGETS.items():
        dlt.create_streaming_table(f"{p}_{{kind}}")
        dlt.create_auto_cdc_flow(target=f"{p}_{{kind}}", source="{p}_changes", keys=["id"], sequence_by="seq",
                                 **options)

        def full(options=options):
            return scd(spark.read.table("{p}_changes"), ["id"], F.col("seq"), options.get("apply_as_deletes"),
                       options.get("except_column_list", ()), options["stored_as_scd_type"],
                       apply_as_truncates=options.get("apply_as_truncates"),
                       column_list=options.get("column_list"),
                       track_history_column_list=options.get("track_history_column_list"),
                       ignore_null_updates=options.get("ignore_null_updates", False))
        dlt.table(name=f"{p}_full_{{kind}}")(full)
    """
KINDS = ("scd1", "nulls", "scd2", "tracked")

_projects = count()


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipelines]:
    """One home and one warm server for the module."""
    with pipelines_on_a_new_home(tmp_path_factory.mktemp("cdc_incremental")) as shared:
        yield shared


def _feed(pipelines: Pipelines, batches: list[list[tuple]], check_batch=None) -> str:
    """Land each batch as one file and run the pipeline after it; compare every target with its full
    recompute after each run. Returns the project prefix."""
    p = f"p{next(_projects)}"
    code = CODE.replace("{p}", p).replace("{{", "{").replace("}}", "}")
    # Every dataset is a config table (so a run refreshes it); the code lives in the first file.
    files = {f"{p}_changes": code, **{f"{p}_{k}": "# defined in the changes file\n" for k in KINDS},
             **{f"{p}_full_{k}": "# defined in the changes file\n" for k in KINDS}}
    config = pipelines.project(p, files)
    for number, batch in enumerate(batches):
        lines = [json.dumps(dict(zip(("id", "name", "city", "op", "seq"), event))) for event in batch]
        pipelines.landed(p, {f"part-{number:05d}.json": "\n".join(lines) + "\n"})
        outcome = pipelines.ok(config)
        log = "\n".join(outcome.lines)
        for kind in KINDS:
            assert pipelines.rows(f"{p}_{kind}") == pipelines.rows(f"{p}_full_{kind}"), (kind, number, batches)
            # From the second batch on, the target takes only the new rows (not a hidden full recompute).
            applied = f"AUTO CDC target '{p}_{kind}': applying the new change rows"
            said = [line for line in outcome.lines if f"AUTO CDC target '{p}_{kind}'" in line]
            assert (applied in log) == (number > 0), (kind, number, said)
        if check_batch is not None:
            check_batch(p, number)
    return p


EVENT = st.tuples(
    st.sampled_from([1, 2, 3, None]),
    st.sampled_from(["a", "b", None]),
    st.sampled_from(["x", "y", None]),
    st.sampled_from(["UPSERT"] * 6 + ["DELETE"] * 2 + ["TRUNCATE"]),
)


# No shrinking: each example is a few pipeline runs; a failure names its batches.
@settings(max_examples=2, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(events=st.lists(EVENT, min_size=6, max_size=16), seed=st.integers(0, 2**16))
def test_random_change_streams_in_random_batches_equal_the_full_recompute(pipelines, events, seed):
    rng = random.Random(seed)
    # Distinct sequence values per stream, in an order unrelated to arrival: later batches carry late rows.
    order = list(range(1, len(events) + 1))
    rng.shuffle(order)
    stream = [(i, n, c, op, s) for (i, n, c, op), s in zip(events, order)]
    # Three batches, each event in a random one (a batch may be empty: a run with nothing new).
    batches: list[list[tuple]] = [[], [], []]
    for event in stream:
        batches[rng.randrange(3)].append(event)
    _feed(pipelines, batches)


def test_the_documented_example_in_batches_gives_the_documented_tables(pipelines):
    # Databricks' AUTO CDC example (docs.databricks.com, "AUTO CDC APIs", SCD type 1 and type 2
    # processing). The updates of 123 and 125 at 5 arrive after their later changes at 6: late rows.
    batches = [USERS[:4], USERS[4:6], USERS[6:]]

    def documented(p: str, number: int) -> None:
        if number < len(batches) - 1:
            return
        scd1 = [(r["id"], r["name"], r["city"]) for r in pipelines.rows(f"{p}_scd1")]
        assert sorted(scd1, key=str) == sorted(DOC_SCD1, key=str)
        scd2 = [(r["id"], r["name"], r["city"], r["__START_AT"], r["__END_AT"]) for r in pipelines.rows(f"{p}_scd2")]
        assert sorted(scd2, key=str) == sorted(DOC_SCD2, key=str)

    _feed(pipelines, batches, documented)


# Snapshots from a function: each run asks only for the snapshots after the kept version; the
# targets equal the full recompute from every snapshot (computed beside them in the same run).
SNAPSHOT_CODE = """
    import os

    import dlt
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    from etl_assets.engines.local.compat.cdc import _history

    SCHEMA = StructType([StructField("id", LongType()), StructField("name", StringType()),
                         StructField("city", StringType())])
    FOLDER = spark.conf.get("etl_assets.landing_path") + "/{p}"
    VERSIONS = sorted(int(n.split(".")[0]) for n in os.listdir(FOLDER) if n.endswith(".json"))

    def snapshot(version):
        return spark.read.schema(SCHEMA).json(f"{{FOLDER}}/{{version:05d}}.json")

    def next_snapshot(latest):
        later = [v for v in VERSIONS if latest is None or v > latest]
        return (snapshot(later[0]), later[0]) if later else None

    OPTIONS = {{"s1": dict(stored_as_scd_type=1), "s2": dict(stored_as_scd_type=2),
               "t2": dict(stored_as_scd_type=2, track_history_column_list=["city"])}}
    for kind, options in OPTIONS.items():
        dlt.create_streaming_table(f"{p}_{{kind}}")
        dlt.create_auto_cdc_from_snapshot_flow(target=f"{p}_{{kind}}", source=next_snapshot, keys=["id"], **options)

    EVERY = [(snapshot(v), v) for v in VERSIONS]
    dlt.table(name="{p}_full_s1")(lambda: EVERY[-1][0])
    dlt.table(name="{p}_full_s2")(lambda: _history(EVERY, ["id"], None, None))
    dlt.table(name="{p}_full_t2")(lambda: _history(EVERY, ["id"], ["city"], None))
    """
SNAPSHOT_KINDS = ("s1", "s2", "t2")
ROW = st.tuples(st.sampled_from([1, 2, 3, 4]), st.sampled_from(["a", "b", None]), st.sampled_from(["x", "y"]))


@settings(max_examples=2, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(snapshots=st.lists(st.lists(ROW, max_size=4, unique_by=lambda r: r[0]), min_size=3, max_size=6),
       seed=st.integers(0, 2**16))
def test_snapshots_applied_after_the_kept_version_equal_the_full_recompute(pipelines, snapshots, seed):
    rng = random.Random(seed)
    p = f"p{next(_projects)}"
    code = SNAPSHOT_CODE.replace("{p}", p).replace("{{", "{").replace("}}", "}")
    files = {f"{p}_s1": code, **{f"{p}_{k}": "# defined in the s1 file\n" for k in SNAPSHOT_KINDS[1:]},
             **{f"{p}_full_{k}": "# defined in the s1 file\n" for k in SNAPSHOT_KINDS}}
    config = pipelines.project(p, files)
    # The snapshots land in three runs (the first gets at least one, a later one may get none).
    cut = sorted(rng.sample(range(1, len(snapshots) + 1), 2))
    runs = [snapshots[:cut[0]], snapshots[cut[0]:cut[1]], snapshots[cut[1]:]]
    version = 0
    for number, batch in enumerate(runs):
        landed = {}
        for rows in batch:
            version += rng.randint(1, 3)
            lines = [json.dumps(dict(zip(("id", "name", "city"), row))) for row in rows]
            landed[f"{version:05d}.json"] = "".join(line + "\n" for line in lines)
        if landed:
            pipelines.landed(p, landed)
        outcome = pipelines.ok(config)
        log = "\n".join(outcome.lines)
        for kind in SNAPSHOT_KINDS:
            assert pipelines.rows(f"{p}_{kind}") == pipelines.rows(f"{p}_full_{kind}"), (kind, number, runs)
            applied = f"AUTO CDC target '{p}_{kind}': applying {len(batch)} new snapshot(s)"
            # An empty kept target has no columns to start from: it is recomputed.
            empty = f"AUTO CDC target '{p}_{kind}': recomputed from every snapshot (the kept target has no rows"
            assert (applied in log) == (number > 0) or (empty in log and number > 0), (kind, number, log[-3000:])
