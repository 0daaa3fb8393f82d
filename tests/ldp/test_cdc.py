"""The local AUTO CDC (SCD 1 and 2) against an independent reference on crafted change feeds."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from tests.support import reference

pytestmark = pytest.mark.slow

COLUMNS = ("id", "firstname", "lastname", "email", "address", "operation", "operation_date", "_rescued_data")


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]").appName("etl_assets-cdc-test")
        .config("spark.sql.shuffle.partitions", "2").config("spark.ui.enabled", "false").getOrCreate()
    )
    yield session
    session.stop()


def feed(rng: random.Random, keys: int, events: int) -> list[dict]:
    """Change events arriving out of order, with repeated keys, deletes and a re-created key."""
    start = datetime(2026, 1, 1)
    seconds = rng.sample(range(10_000_000), events)
    rows = []
    for s in seconds:
        rows.append({
            "id": f"k{rng.randrange(keys)}",
            "firstname": rng.choice(["a", "b", None]),
            "lastname": rng.choice(["x", "y"]),
            "email": f"e{rng.randrange(50)}",
            "address": rng.choice(["1 Main", "2 Oak", None]),
            "operation": rng.choices(["APPEND", "UPDATE", "DELETE"], [5, 3, 2])[0],
            "operation_date": (start + timedelta(seconds=s)).strftime("%m-%d-%Y %H:%M:%S"),
            "_rescued_data": None,
        })
    return rows


def run_scd(spark, events: list[dict], scd_type: int):
    from pyspark.sql import functions as F

    from etl_assets.ldp.cdc import scd

    df = spark.createDataFrame([tuple(e[c] for c in COLUMNS) for e in events], ", ".join(f"{c} string" for c in COLUMNS))
    out = scd(df, ["id"], F.to_timestamp(F.col("operation_date"), "MM-dd-yyyy HH:mm:ss"),
              F.expr("operation = 'DELETE'"), ["operation", "operation_date", "_rescued_data"], scd_type)
    return out


def as_reference_events(events: list[dict]) -> list[dict]:
    out = []
    for e in events:
        e = dict(e)
        e["_seq"] = datetime.strptime(e["operation_date"], "%m-%d-%Y %H:%M:%S")
        out.append(e)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scd1_and_scd2_equal_the_reference(spark, seed):
    events = feed(random.Random(seed), keys=15, events=300)
    expected_events = as_reference_events(events)

    scd1 = run_scd(spark, events, 1)
    assert scd1.columns == ["id", "firstname", "lastname", "email", "address"]
    found1 = [tuple(r) for r in scd1.collect()]
    assert len(found1) == len(set(found1))
    assert set(found1) == reference.scd1(expected_events)

    scd2 = run_scd(spark, events, 2)
    assert scd2.columns == ["id", "firstname", "lastname", "email", "address", "__START_AT", "__END_AT"]
    found2 = [tuple(r) for r in scd2.collect()]
    assert set(found2) == reference.scd2(expected_events) and len(found2) == len(set(found2))
    # One open version per key still present in type 1.
    open_keys = {r[0] for r in found2 if r[-1] is None}
    assert open_keys == {r[0] for r in found1}


def test_arrival_order_does_not_matter(spark):
    events = feed(random.Random(9), keys=5, events=80)
    shuffled = list(events)
    random.Random(4).shuffle(shuffled)
    assert {tuple(r) for r in run_scd(spark, events, 2).collect()} == {tuple(r) for r in run_scd(spark, shuffled, 2).collect()}


def test_delete_removes_the_key_and_closes_the_open_row(spark):
    events = [
        {"id": "a", "firstname": "v2", "lastname": "l", "email": "e", "address": "x", "operation": "UPDATE",
         "operation_date": "01-02-2026 00:00:00", "_rescued_data": None},
        {"id": "a", "firstname": "v1", "lastname": "l", "email": "e", "address": "x", "operation": "APPEND",
         "operation_date": "01-01-2026 00:00:00", "_rescued_data": None},
        {"id": "a", "firstname": None, "lastname": None, "email": None, "address": None, "operation": "DELETE",
         "operation_date": "01-03-2026 00:00:00", "_rescued_data": None},
        {"id": "b", "firstname": "only", "lastname": "l", "email": "e", "address": "y", "operation": "APPEND",
         "operation_date": "01-01-2026 00:00:00", "_rescued_data": None},
    ]
    assert [tuple(r) for r in run_scd(spark, events, 1).collect()] == [("b", "only", "l", "e", "y")]
    history = sorted(tuple(r) for r in run_scd(spark, events, 2).collect())
    day = lambda d: datetime(2026, 1, d)  # noqa: E731
    assert history == [
        ("a", "v1", "l", "e", "x", day(1), day(2)),
        ("a", "v2", "l", "e", "x", day(2), day(3)),
        ("b", "only", "l", "e", "y", day(1), None),
    ]
