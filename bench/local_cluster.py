"""The example on a Spark standalone cluster on this machine, beside the embedded `local[*]`.

    .venv/bin/python bench/local_cluster.py [--rows 1000000] [--new-rows 1000] [--executor-memory 1g]

What the cluster path costs on one machine, not a speed claim: a loopback cluster shares this
machine's cores with its driver, and each worker here has one core. `--rows` lines per source
(customers, orders) are generated once; each setup gets a fresh home with the same files:

- local[*]: the warm server runs the flows itself (the baseline);
- 1 worker, 2 workers: a master and workers on 127.0.0.1 (`spark-class ...Master/Worker`, one
  core each); the warm server is the driver, the workers' executors run the tasks.

For each: the server's start, the first run of both pipelines (customers_cdc then orders),
then a run after `--new-rows` more lines land, and the tasks each worker's executors finished
(from their logs). Ratios are against local[*] in the same run; every table's row count must
match local[*]'s, or the script says which differ.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from local_common import EXAMPLE_PIPELINES, REPO, RunTiming, fresh_home, load, run_pipelines, write_example_landing

from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.server import ensure_warm_spark, stop_warm_spark
from etl_assets.engines.local.tables import count_rows
from etl_assets.example.datagen import generate
from etl_assets.project.config import ProjectConfig
from etl_assets.project.load import load_config
from tests.support.spark_cluster import LoopbackCluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="lines per source (default 1,000,000)")
    parser.add_argument("--new-rows", type=int, default=1000, help="lines per source in the new file (default 1000)")
    parser.add_argument("--executor-memory", default="1g", help="each executor's heap (default 1g)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="cluster sizes (default 1 2)")
    parser.add_argument("--workdir", type=Path, default=None, help="where data and homes go (default: a temp folder)")
    args = parser.parse_args()
    config = load_config(REPO / "config.yml")
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    print(f"{'setup':>10}  {'server s':>8}  {'1st run s':>9}  {'x local':>7}  {'new file s':>10}  {'x local':>7}  "
          f"{'tasks per worker':>16}  rows  load", flush=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        base = Path(tmp)
        landing = base / "landing"
        write_example_landing(landing, args.rows)
        baseline: dict[str, object] = {}
        for workers in [0, *args.workers]:
            name = "local[*]" if workers == 0 else f"{workers} worker{'s' if workers > 1 else ''}"
            if workers == 0:
                result = _measure(config, fresh_home(base, "local", landing), args.new_rows)
                result["tasks"] = "-"
                baseline = result
            else:
                with LoopbackCluster(base / f"cluster{workers}", workers=workers,
                                     memory=_worker_memory(args.executor_memory)) as cluster:
                    plain = fresh_home(base, f"cluster{workers}_home", landing)
                    home = LocalHome.configured(plain.root, cluster.url, cluster.app_conf(args.executor_memory))
                    result = _measure(config, home, args.new_rows)
                    result["tasks"] = "/".join(str(sum(log.read_text(errors="replace").count("Finished task")
                                                       for log in logs))
                                               for logs in cluster.executor_logs().values())
            print(_line(name, result, baseline), flush=True)
            if result["rows"] != baseline["rows"]:
                differ = [t for t, n in result["rows"].items() if baseline["rows"].get(t) != n]  # type: ignore[attr-defined]
                print(f"{'':>12}row counts differ from local[*]: {', '.join(differ)}", flush=True)


def _worker_memory(executor_memory: str) -> str:
    # A worker offers its executor's heap plus what Spark adds to it (10 %, at least 384 MiB).
    number, unit = int(executor_memory[:-1]), executor_memory[-1].lower()
    mib = number * 1024 if unit == "g" else number
    return f"{mib + max(384, mib // 10) + 64}m"


def _measure(config: ProjectConfig, home: LocalHome, new_rows: int) -> dict[str, object]:
    result: dict[str, object] = {"load": load()}
    try:
        began = time.perf_counter()
        ensure_warm_spark(home)
        result["server"] = time.perf_counter() - began
        result["first"] = run_pipelines(config, home, EXAMPLE_PIPELINES)
        generate(home.landing, rows=new_rows, seed=1)
        result["new"] = run_pipelines(config, home, EXAMPLE_PIPELINES)
        result["rows"] = {t.name: count_rows(home.table_location(t.name)) for t in config.tables}
    finally:
        stop_warm_spark(home)
    result["load"] = f"{result['load']} -> {load()}"
    return result


def _line(name: str, r: dict[str, object], base: dict[str, object]) -> str:
    first, new = r["first"], r["new"]
    base_first, base_new = base["first"], base["new"]
    assert isinstance(first, RunTiming) and isinstance(new, RunTiming)
    assert isinstance(base_first, RunTiming) and isinstance(base_new, RunTiming)
    same = "same" if r["rows"] == base["rows"] else "DIFFER"
    return (f"{name:>10}  {r['server']:>8.1f}  {first.seconds:>9.1f}  {first.seconds / base_first.seconds:>7.2f}  "
            f"{new.seconds:>10.1f}  {new.seconds / base_new.seconds:>7.2f}  {r['tasks']:>16}  {same}  {r['load']}")


if __name__ == "__main__":
    main()
