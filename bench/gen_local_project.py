"""Generate a runnable etl_assets project: N tables in P pipelines, real transformations, raw data.

    python bench/gen_local_project.py --tables 200 --pipelines 10 --rows 1000 --out /tmp/etl_200

Per pipeline (20 tables with the defaults): a fifth bronze streaming tables, each reading its
own landing folder of JSON events incrementally (`read_landing`); half silver materialized
views (a filter and derived columns over one bronze table, every other one joining a second
bronze table, every third with an expectation); the rest gold aggregates over one or two silver
views. Pipelines are independent of each other unless `--cross-reads` is set, so any two can
run at the same time. Landing files go under `<out>/home/landing` (the home the benchmarks
use), `--rows` lines per bronze table.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

EVENT_FIELDS = ("event_id", "account", "category", "amount", "event_ts")
CATEGORIES = ("alpha", "beta", "gamma", "delta", "epsilon")


@dataclass(frozen=True)
class GeneratedProject:
    """Paths of a generated project: its folder, config.yml and the home holding its landing files."""

    root: Path
    config: Path
    home: Path
    tables: int
    pipelines: int


BRONZE = '''"""{name}: raw events of {folder}, read incrementally from JSON files."""

from pyspark import pipelines as dp
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from etl_assets.ldp import read_landing

EVENT = StructType([
    StructField("event_id", StringType(), True),
    StructField("account", StringType(), True),
    StructField("category", StringType(), True),
    StructField("amount", DoubleType(), True),
    StructField("event_ts", StringType(), True),
])

dp.create_streaming_table(name="{name}", comment="Raw events of {folder}")


@dp.append_flow(target="{name}", name="{name}")
def {name}_ingest():
    return read_landing("{folder}", EVENT, format="json")
'''

SILVER = '''"""{name}: valid events of {source} with derived columns{join_doc}."""

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from etl_assets.ldp import Rule, materialized_view

spark = SparkSession.active()

RULES = {rules}


@materialized_view(name="{name}", comment="Valid events of {source}", expectations=RULES)
def {name}():
    events = (
        spark.read.table("{source}")
        .where(F.col("_rescued_data").isNull())
        .select("event_id", "account", "category", "amount", F.to_timestamp("event_ts").alias("event_ts"))
        .withColumn("event_day", F.to_date("event_ts"))
        .withColumn("amount_band", F.when(F.col("amount") >= 250, "high").otherwise("low"))
    )
{join}    return events
'''

SILVER_JOIN = '''    accounts = (
        spark.read.table("{other}")
        .groupBy(F.col("account"))
        .agg(F.count("*").alias("{other}_events"), F.max("event_ts").alias("{other}_last_ts"))
    )
    events = events.join(accounts, on="account", how="left")
'''

GOLD = '''"""{name}: per account and day, counts and totals over {sources}."""

from pyspark import pipelines as dp
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

spark = SparkSession.active()


@dp.materialized_view(name="{name}", comment="Per account and day over {sources}")
def {name}():
    events = {union}
    return (
        events.groupBy("account", "event_day")
        .agg(
            F.count("*").alias("events"),
            F.round(F.sum("amount"), 2).alias("total"),
            F.countDistinct("category").alias("categories"),
            F.sum(F.when(F.col("amount_band") == "high", 1).otherwise(0)).alias("high_events"),
        )
    )
'''


def generate(out: Path, tables: int = 200, pipelines: int = 10, rows: int = 1000, seed: int = 7,
             cross_reads: bool = False) -> GeneratedProject:
    """Write config.yml, one transformation per table and `rows` raw events per bronze table."""
    if tables < pipelines * 3:
        raise SystemExit(f"--tables must be at least 3 per pipeline ({pipelines * 3} for {pipelines} pipelines)")
    rng = random.Random(seed)
    per_pipeline = tables // pipelines
    bronze_n = max(1, per_pipeline // 5)
    silver_n = max(1, per_pipeline // 2)
    gold_n = per_pipeline - bronze_n - silver_n
    home = out / "home"
    entries: list[dict[str, object]] = []
    silver_of: dict[int, list[str]] = {}
    for p in range(pipelines):
        bronze = [f"p{p}_bronze_{i}" for i in range(bronze_n)]
        silver = [f"p{p}_silver_{i}" for i in range(silver_n)]
        gold = [f"p{p}_gold_{i}" for i in range(gold_n)]
        silver_of[p] = silver
        for name in bronze:
            folder = f"{name}_events"
            _write(out, "bronze", name, BRONZE.format(name=name, folder=folder))
            _landing(home / "landing" / folder, rows, rng)
            entries.append(_entry(name, "bronze", p, [], source={"type": "files", "format": "json", "path": folder}))
        for i, name in enumerate(silver):
            source = bronze[i % bronze_n]
            other = bronze[(i + 1) % bronze_n] if i % 2 == 1 and bronze_n > 1 else None
            checked = i % 3 == 0
            rules = ('[Rule("known_account", "account IS NOT NULL", "drop")]' if checked else "[]")
            join = SILVER_JOIN.format(other=other) if other else ""
            _write(out, "silver", name, SILVER.format(
                name=name, source=source, rules=rules, join=join,
                join_doc=f", joined with per-account figures of {other}" if other else ""))
            expectations = ([{"name": "known_account", "condition": "account IS NOT NULL", "action": "drop",
                              "max_failed_share": 0.05}] if checked else [])
            entries.append(_entry(name, "silver", p, [source, *([other] if other else [])], expectations=expectations))
        for i, name in enumerate(gold):
            sources = [silver[i % silver_n], silver[(i + 3) % silver_n]]
            if cross_reads and p > 0 and i == 0:
                sources[1] = silver_of[p - 1][0]
            sources = sorted(set(sources))
            union = " .unionByName(".join(
                f'spark.read.table("{s}").select("account", "event_day", "category", "amount", "amount_band")'
                for s in sources) + ")" * (len(sources) - 1)
            _write(out, "gold", name, GOLD.format(name=name, sources=", ".join(sources), union=union))
            entries.append(_entry(name, "gold", p, sources))
    doc = {
        "pipelines": {f"pipeline_{p}": {"name": f"bench_pipeline_{p}"} for p in range(pipelines)},
        "tables": entries,
    }
    config = out / "config.yml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    return GeneratedProject(out, config, home, len(entries), pipelines)


def _entry(name: str, layer: str, p: int, deps: list[str], source: dict[str, str] | None = None,
           expectations: list[dict[str, object]] | None = None) -> dict[str, object]:
    entry: dict[str, object] = {"name": name, "layer": layer, "pipeline": f"pipeline_{p}", "tags": [layer]}
    if deps:
        entry["depends_on"] = deps
    if source:
        entry["source"] = source
    if expectations:
        entry["expectations"] = expectations
    return entry


def _write(out: Path, layer: str, name: str, code: str) -> None:
    path = out / "transformations" / layer / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(code)


def _landing(folder: Path, rows: int, rng: random.Random, index: int = 0) -> Path:
    """One JSON-lines file of `rows` events (about 2% without an account) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for n in range(rows):
        lines.append(json.dumps({
            "event_id": f"{index}-{n}",
            "account": None if rng.random() < 0.02 else f"acct-{rng.randrange(max(1, rows // 10))}",
            "category": rng.choice(CATEGORIES),
            "amount": round(rng.uniform(1, 500), 2),
            "event_ts": f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} {rng.randrange(24):02d}:00:00",
        }))
    path = folder / f"part-{index:05d}.json"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--pipelines", type=int, default=10)
    parser.add_argument("--rows", type=int, default=1000, help="raw events per bronze table")
    parser.add_argument("--cross-reads", action="store_true", help="each pipeline's first gold reads the previous pipeline")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(generate(args.out, args.tables, args.pipelines, args.rows, cross_reads=args.cross_reads))


if __name__ == "__main__":
    main()
