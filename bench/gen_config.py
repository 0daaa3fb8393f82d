"""Generate a synthetic etl_assets project: N tables, 10 pipelines, 3 layers, ~2 deps, 20 tags.

    python bench/gen_config.py --tables 10000 --out /tmp/etl_bench_10k [--code ldp|stub]

Each table gets its transformation file: `ldp` (default) writes what a real one holds (a
docstring, imports of pyspark and `etl_assets.ldp`, expectations, a decorated function reading
its upstream tables; 600 to 900 bytes, like the example project's), `stub` one comment line
(what the figures recorded before code versions were measured on).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import yaml

LAYERS = ("bronze", "silver", "gold")
SCHEDULES = [
    ("daily_t0_t1", "0 6 * * *", "tag:t0 and tag:t1"),
    ("hourly_t2", "15 * * * *", "tag:t2"),
    ("gold_nightly", "0 2 * * *", "group:gold"),
    ("t3_or_t4", "30 */4 * * *", "tag:t3 or tag:t4"),
    ("weekly_t5", "0 7 * * 1", "tag:t5"),
]


CODE_STYLES = ("ldp", "stub")

_BRONZE = '''"""{name}: raw rows of one landing source, as they arrive."""

from pyspark.sql.types import LongType, StringType, StructField, StructType

from etl_assets.ldp import Rule, read_landing, table

SCHEMA = StructType([
    StructField("id", LongType()),
    StructField("payload", StringType()),
    StructField("event_ts", StringType()),
])


@table(name="{name}", comment="Raw rows of {name}",
       expectations=[Rule("no_rescued_data", "_rescued_data IS NULL", "warn")])
def {name}():
    return read_landing("{name}", SCHEMA)
'''

_DERIVED = '''"""{name}: {layer} table built from {upstream}."""

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from etl_assets.ldp import Rule, materialized_view

spark = SparkSession.active()

RULES = [
    Rule("valid_id", "id IS NOT NULL", "drop"),
]


@materialized_view(name="{name}", comment="{layer} rows of {name}", expectations=RULES)
def {name}():
    frames = [spark.read.table(name).select("id", "payload", "event_ts") for name in {deps!r}]
    joined = frames[0]
    for frame in frames[1:]:
        joined = joined.unionByName(frame)
    return joined.withColumn("loaded_at", F.current_timestamp())
'''


def transformation_code(name: str, layer: str, deps: list[str], code: str = "ldp") -> str:
    """The transformation file of one generated table (see the module docstring for `code`)."""
    if code == "stub":
        return f"# generated dataset {name}\n"
    if layer == "bronze":
        return _BRONZE.format(name=name)
    return _DERIVED.format(name=name, layer=layer, deps=deps, upstream=", ".join(deps))


def generate(out: Path, tables: int, pipelines: int = 10, tags: int = 20, seed: int = 7, code: str = "ldp") -> Path:
    """Write config.yml and one transformation file per table under `out`; return the config path."""
    if code not in CODE_STYLES:
        raise ValueError(f"code must be one of {', '.join(CODE_STYLES)}, not {code!r}")
    rng = random.Random(seed)
    per_pipeline = tables // pipelines
    by_layer: dict[tuple[int, str], list[str]] = {}
    entries = []
    for p in range(pipelines):
        for i in range(per_pipeline):
            layer = LAYERS[min(2, i * 3 // per_pipeline)]
            name = f"p{p}_{layer}_{i}"
            deps: list[str] = []
            if layer != "bronze":
                upstream_layer = LAYERS[LAYERS.index(layer) - 1]
                for _ in range(2):
                    # Mostly the same pipeline; sometimes an earlier one (pipelines stay acyclic).
                    source = p if p == 0 or rng.random() < 0.9 else rng.randrange(p)
                    pool = by_layer.get((source, upstream_layer)) or by_layer[(p, upstream_layer)]
                    deps.append(rng.choice(pool))
            entries.append({
                "name": name,
                "layer": layer,
                "pipeline": f"pipeline_{p}",
                "tags": sorted({f"t{rng.randrange(tags)}" for _ in range(3)} | {layer}),
                "depends_on": sorted(set(deps)),
            })
            by_layer.setdefault((p, layer), []).append(name)
            path = out / "transformations" / layer / f"{name}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(transformation_code(name, layer, sorted(set(deps)), code))
    doc = {
        "pipelines": {f"pipeline_{p}": {"name": f"bench_pipeline_{p}"} for p in range(pipelines)},
        "schedules": [{"name": n, "cron": c, "selection": s} for n, c, s in SCHEDULES],
        "tables": entries,
    }
    config = out / "config.yml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--code", choices=CODE_STYLES, default="ldp", help="what each transformation file holds")
    args = parser.parse_args()
    print(generate(args.out, args.tables, code=args.code))


if __name__ == "__main__":
    main()
