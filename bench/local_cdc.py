"""The local AUTO CDC after a small new batch: applied to the kept target, against recomputed in full.

    .venv/bin/python bench/local_cdc.py [--rows 1000000] [--new-rows 1000]

The example's `customers_cdc` pipeline (its AUTO CDC targets `customers`, SCD type 1, and
`customers_history`, SCD type 2) over `--rows` raw change events (as `etl-assets generate-data`
writes them, sequence values in random order, so the new rows are mostly late rows), in a fresh
home on one warm server:

1. first run: everything computed from scratch;
2. incremental: `--new-rows` more lines land, the pipeline runs; the targets apply them to the
   kept targets;
3. full recompute: as many lines again land, the targets' kept state is removed first, so the
   run recomputes them from the whole change feed (what every run did before).

Printed: seconds of each run and of each AUTO CDC flow (RUNNING to COMPLETED, as streamed), and
incremental / full recompute as ratios (the baseline is run 3, in the same process).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from local_common import REPO, RunTiming, fresh_home, load, run_pipelines, write_example_landing

from etl_assets.engines.local.compat.cdc_incremental import forget_state
from etl_assets.engines.local.server import ensure_warm_spark, stop_warm_spark
from etl_assets.example.datagen import generate
from etl_assets.project.load import load_config

PIPELINE = "customers_cdc"
TARGETS = ("customers", "customers_history")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="raw change events before the new batch")
    parser.add_argument("--new-rows", type=int, default=1000, help="lines in each new batch (default 1000)")
    parser.add_argument("--workdir", type=Path, default=None, help="where data and the home go (default: temp)")
    args = parser.parse_args()
    config = load_config(REPO / "config.yml")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        base = Path(tmp)
        began = time.perf_counter()
        write_example_landing(base / "landing", args.rows)
        print(f"generated {args.rows:,} rows per source in {time.perf_counter() - began:.1f} s; {load()}", flush=True)
        home = fresh_home(base, "home", base / "landing")
        try:
            ensure_warm_spark(home)
            first, incremental, full = RunTiming(), RunTiming(), RunTiming()
            run_pipelines(config, home, [PIPELINE], timing=first)
            generate(home.landing, rows=args.new_rows, seed=1, datasets=("customers",))
            run_pipelines(config, home, [PIPELINE], timing=incremental)
            # The kept rows are hard-linked there only when a run takes the incremental path.
            taken = {t: (home.root / "cdc" / t / "base").is_dir() for t in TARGETS}
            generate(home.landing, rows=args.new_rows, seed=2, datasets=("customers",))
            for target in TARGETS:
                forget_state(home.root, target)
            run_pipelines(config, home, [PIPELINE], timing=full)
        finally:
            stop_warm_spark(home)
    print(f"\n{'':28} {'first run':>10} {'incremental':>12} {'full recompute':>15} {'incr / full':>12}")
    print(f"{'run of ' + PIPELINE + ' s':28} {first.seconds:10.1f} {incremental.seconds:12.1f} {full.seconds:15.1f} "
          f"{incremental.seconds / full.seconds:12.2f}")
    for target in TARGETS:
        inc, rec = incremental.per_flow.get(target), full.per_flow.get(target)
        ratio = f"{inc / rec:12.2f}" if inc and rec else f"{'-':>12}"
        print(f"{target + ' flow s':28} {first.per_flow.get(target, 0):10.1f} {inc or 0:12.1f} {rec or 0:15.1f} {ratio}")
    print(f"\nincremental path taken: {', '.join(f'{t} {taken[t]}' for t in TARGETS)}")
    print(f"{args.rows:,} raw rows, new batches of {args.new_rows:,}; {load()}")


if __name__ == "__main__":
    main()
