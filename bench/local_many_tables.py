"""A generated project of many tables in several pipelines, end to end on the local engine.

    .venv/bin/python bench/local_many_tables.py [--tables 200] [--pipelines 10] [--rows 1000] [--dagster]

The project comes from `gen_local_project.py` (bronze streaming tables over landing files,
silver materialized views, some with an expectation and a join, gold aggregates). On one warm
Spark server of a fresh home: the server start apart, a first run of every pipeline (one after
the other), then a repeated run; with --dagster also Dagster's multiprocess executor over all
pipelines (2 steps at once). Baseline: the same runner on one pipeline of the same project
(`pipeline_0`'s repeated run), so "x one pipeline" shows how the total grows with pipelines.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from gen_local_project import generate as generate_project
from local_common import PeakMemory, RunTimeout, RunTiming, fmt_mib, load, run_pipelines

from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.server import ensure_warm_spark, stop_warm_spark
from etl_assets.project.load import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--pipelines", type=int, default=10)
    parser.add_argument("--rows", type=int, default=1000, help="raw events per bronze table (default 1000)")
    parser.add_argument("--limit-minutes", type=float, default=20.0, help="stop runs that take longer in all")
    parser.add_argument("--dagster", action="store_true", help="also run every pipeline through Dagster, 2 at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = generate_project(Path(tmp) / "project", args.tables, args.pipelines, args.rows)
        config = load_config(project.config)
        keys = tuple(config.pipelines)
        home = LocalHome(project.home)
        print(f"{project.tables} tables in {len(keys)} pipelines, {args.rows:,} rows per bronze table; {load()}", flush=True)
        results: list[tuple[str, float, int, float, float]] = []  # variant, seconds, tables, server, run
        deadline = time.perf_counter() + args.limit_minutes * 60
        try:
            start = time.perf_counter()
            ensure_warm_spark(home)
            results.append(("server cold start", time.perf_counter() - start, 0, 0.0, 0.0))
            for label in ("first run, pipelines one after the other", "repeated run, one after the other"):
                timing = RunTiming()
                with PeakMemory(home) as memory:
                    try:
                        run_pipelines(config, home, keys, limit=deadline - time.perf_counter(), timing=timing)
                    except RunTimeout as stopped:
                        timing.timed_out = True
                        print(f"stopped: {stopped}", flush=True)
                per = ", ".join(f"{k.removeprefix('pipeline_')}: {v:.1f}" for k, v in timing.per_pipeline.items())
                print(f"  {label}: seconds per pipeline {per}; {load()}", flush=True)
                if timing.timed_out:
                    done = [k for k in list(timing.per_pipeline)[:-1]]
                    tables = sum(len(config.tables_of(k)) for k in done)
                    seconds = sum(timing.per_pipeline[k] for k in done)
                    print(f"stopped after {len(done)} whole pipelines ({tables} tables) in {seconds:.1f} s: "
                          f"{seconds / max(1, tables):.2f} s per table", flush=True)
                    return
                results.append((label, timing.seconds, project.tables, memory.server_mib, memory.client_mib))
            one = RunTiming()
            run_pipelines(config, home, keys[:1], timing=one)
            results.insert(1, (f"one pipeline (`{keys[0]}`), repeated run (baseline)", one.seconds,
                               len(config.tables_of(keys[0])), 0.0, 0.0))
            if args.dagster:
                results.append(_dagster(project.config, home, keys, project.tables, Path(tmp)))
        finally:
            stop_warm_spark(home)
        baseline = results[1][1]
        print("| variant | tables | seconds | s per table | x one pipeline | server MiB | run MiB |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for variant, seconds, tables, server, run in results:
            per_table = f"{seconds / tables:.2f}" if tables else "-"
            print(f"| {variant} | {tables or '-'} | {seconds:.1f} | {per_table} | {seconds / baseline:.2f} | "
                  f"{fmt_mib(server)} | {fmt_mib(run)} |", flush=True)


def _dagster(config_path: Path, home: LocalHome, keys: tuple[str, ...], tables: int, base: Path,
             ) -> tuple[str, float, int, float, float]:
    import local_dagster_job
    from dagster import execute_job, instance_for_test, reconstructable

    os.environ.update(ETL_ASSETS_CONFIG=str(config_path), ETL_ASSETS_HOME=str(home.root), BENCH_PIPELINES=",".join(keys))
    with tempfile.TemporaryDirectory(dir=base) as dagster_home, instance_for_test(temp_dir=dagster_home) as instance, \
            PeakMemory(home) as memory:
        start = time.perf_counter()
        with execute_job(reconstructable(local_dagster_job.pipelines_job), instance=instance,
                         run_config={"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}) as result:
            seconds = time.perf_counter() - start
            if not result.success:
                raise SystemExit("the Dagster run of every pipeline failed")
    return ("Dagster, multiprocess executor (2 at once), repeated", seconds, tables, memory.server_mib, memory.client_mib)


if __name__ == "__main__":
    main()
