"""Generate a synthetic etl_assets project: N tables, 10 pipelines, 3 layers, ~2 deps, 20 tags.

    python bench/gen_config.py --tables 10000 --out /tmp/etl_bench_10k
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


def generate(out: Path, tables: int, pipelines: int = 10, tags: int = 20, seed: int = 7) -> Path:
    """Write config.yml and one transformation file per table under `out`; return the config path."""
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
            path.write_text(f"# generated dataset {name}\n")
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
    args = parser.parse_args()
    print(generate(args.out, args.tables))


if __name__ == "__main__":
    main()
