"""The example at growing data sizes on the local engine, and what the local CDC costs as it grows.

    .venv/bin/python bench/local_scale.py [--rows 10000 100000 1000000 10000000] [--limit-minutes 15]

For each size, `--rows` lines per source (customers, orders) are generated as
`etl-assets generate-data` writes them (files of at most 400,000 lines), into a fresh home:

- server start: the home's Spark Connect server, cold, timed apart;
- first run: both pipelines (customers_cdc then orders) on that server: wall seconds, peak
  memory of the server and of the run's own processes (VmHWM from /proc);
- new file: `--new-rows` more lines per source land (one small file) and both pipelines run
  again. Streaming tables read only the new file; the local CDC tables (`customers`, SCD1, and
  `customers_history`, SCD2) are materialized views recomputed from the whole change feed,
  so their flow times show whether the whole history is recomputed.

Baseline: the smallest size, in the same run. A size whose runs pass `--limit-minutes` is
stopped there and larger sizes are skipped.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from local_common import (
    EXAMPLE_PIPELINES,
    REPO,
    PeakMemory,
    RunTimeout,
    RunTiming,
    fmt_mib,
    fresh_home,
    load,
    run_pipelines,
    write_example_landing,
)

from etl_assets.engines.local.server import ensure_warm_spark, stop_warm_spark
from etl_assets.example.datagen import generate
from etl_assets.project.load import load_config

CDC_TABLES = ("customers", "customers_history")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--new-rows", type=int, default=1000, help="lines per source in the new file (default 1000)")
    parser.add_argument("--limit-minutes", type=float, default=15.0, help="stop a size whose runs take longer")
    parser.add_argument("--workdir", type=Path, default=None, help="where data and homes go (default: a temp folder)")
    args = parser.parse_args()
    config = load_config(REPO / "config.yml")
    limit = args.limit_minutes * 60
    rows_out: list[tuple[int, dict[str, object]]] = []
    header = (f"{'rows':>10}  {'files':>5}  {'gen s':>6}  {'server s':>8}  {'1st run s':>9}  {'x base':>6}  "
              f"{'server MiB':>10}  {'run MiB':>8}  {'new file s':>10}  {'x 1st':>5}  "
              f"{'scd1 1st/new s':>14}  {'scd2 1st/new s':>14}  load")
    print(header, flush=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        base = Path(tmp)
        for rows in sorted(args.rows):
            landing = base / f"landing_{rows}"
            began = time.perf_counter()
            files = write_example_landing(landing, rows)
            generated = time.perf_counter() - began
            home = fresh_home(base, f"home_{rows}", landing)
            result: dict[str, object] = {"files": files, "gen": generated, "load": load()}
            try:
                began = time.perf_counter()
                ensure_warm_spark(home)
                result["server"] = time.perf_counter() - began
                first, new = RunTiming(), RunTiming()
                with PeakMemory(home) as memory:
                    try:
                        run_pipelines(config, home, EXAMPLE_PIPELINES, limit=limit, timing=first)
                        generate(home.landing, rows=args.new_rows, seed=1)
                        run_pipelines(config, home, EXAMPLE_PIPELINES, limit=limit, timing=new)
                    except RunTimeout as stopped:
                        result["stopped"] = str(stopped)
                result.update(first=first, new=new, server_mib=memory.server_mib, run_mib=memory.client_mib)
                result["load"] = f"{result['load']} -> {load()}"
            finally:
                stop_warm_spark(home)
                for path in (landing, home.root):
                    _remove(path)
            rows_out.append((rows, result))
            print(_line(rows, result, rows_out[0][1]), flush=True)
            _detail(result)
            if "stopped" in result:
                print(f"stopped at {rows:,} rows: {result['stopped']}; larger sizes skipped", flush=True)
                break


def _line(rows: int, r: dict[str, object], base: dict[str, object]) -> str:
    first, new = r["first"], r["new"]
    assert isinstance(first, RunTiming) and isinstance(new, RunTiming)
    base_first = base["first"]
    assert isinstance(base_first, RunTiming)

    def flows(table: str) -> str:
        a, b = first.per_flow.get(table), new.per_flow.get(table)
        return f"{a:.1f}/{b:.1f}" if a is not None and b is not None else (f"{a:.1f}/-" if a is not None else "-")

    ratio = first.seconds / base_first.seconds if base_first.seconds else 0.0
    new_s = f"{new.seconds:>10.1f}" if new.seconds and not new.timed_out else f"{'-':>10}"
    new_x = f"{new.seconds / first.seconds:>5.2f}" if new.seconds and first.seconds and not new.timed_out else f"{'-':>5}"
    return (f"{rows:>10,}  {r['files']:>5}  {r['gen']:>6.1f}  {r.get('server', 0.0):>8.1f}  "
            f"{first.seconds:>9.1f}{'*' if first.timed_out else ' '} {ratio:>6.2f}  "
            f"{fmt_mib(float(r['server_mib'])):>10}  {fmt_mib(float(r['run_mib'])):>8}  {new_s}  {new_x}  "
            f"{flows('customers'):>14}  {flows('customers_history'):>14}  {r['load']}")


def _detail(r: dict[str, object]) -> None:
    for label in ("first", "new"):
        timing = r[label]
        assert isinstance(timing, RunTiming)
        pipelines = ", ".join(f"{k} {v:.1f}" for k, v in timing.per_pipeline.items())
        slowest = ", ".join(f"{k} {v:.1f}" for k, v in sorted(timing.per_flow.items(), key=lambda kv: -kv[1])[:4])
        print(f"{'':>12}{label}: pipelines {pipelines}; slowest flows {slowest}", flush=True)


def _remove(path: Path) -> None:
    import shutil
    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
