"""Wall time of the whole example on the local engine against a bare cold `spark-pipelines run`.

    .venv/bin/python bench/local_engine.py [--rows 10000] [--cold-runner] [--concurrency]

For each size, the same raw files (one customers and one orders file of --rows lines) are
linked into fresh ETL_ASSETS_HOMEs and both pipelines run (customers_cdc then orders). The
comparison with the bare CLI runs the example's tables as the `shop` test scenario writes them
(the `etl_assets.ldp` style, which bare open-source Spark runs); the example itself is in the
native Databricks style (Auto Loader, `dp.expect*`, AUTO CDC), which only our client runs, so
its own first and repeated runs are timed after, on a home of its own:

- bare CLI: `spark-pipelines run --spec` on the spec we generate, Spark started per run (baseline);
- runner, cold (with --cold-runner): our runner with ETL_ASSETS_WARM_SPARK=0;
- server start: the home's Spark Connect server, cold, timed apart from the runs;
- first run: each pipeline's first run once the server is up (goal: under 10 s each);
- repeated run: the same refresh once more (goal: under 5 s, at most 0.1 of the bare CLI);
- dagster, warm: Dagster `materialize` of every table on the running server;
- native example: the root config.yml's first and repeated run on a warm server.

Runs go through `LocalRunner.run`, so they measure whatever launcher the runner uses. Peak
memory: VmHWM of the home's Spark server and the sum of the peaks of the run's own processes.

With --concurrency: a generated project of two independent pipelines (--concurrency-tables
tables each) on one warm server, refreshed by Dagster twice: steps one after the other
(in-process executor) and at the same time (multiprocess executor, 2 at once). Both must
succeed with every table materialized, i.e. no clash on the shared server.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from local_common import (
    EXAMPLE_PIPELINES,
    REPO,
    PeakMemory,
    RunTiming,
    bare_shop,
    fmt_mib,
    fresh_home,
    load,
    run_pipelines,
)

from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.runner import LocalRunner
from etl_assets.engines.local.server import ensure_warm_spark, stop_warm_spark
from etl_assets.engines.local.spec import write_spec
from etl_assets.example.datagen import generate
from etl_assets.project.config import ProjectConfig
from etl_assets.project.load import load_config

Row = tuple[str, float, float, float]  # variant, seconds, server MiB, run MiB


def bare_cli(config: ProjectConfig, home: LocalHome) -> Row:
    """Both pipelines with the bare `spark-pipelines run` CLI, a Spark start per run."""
    home.prepare()
    exe = Path(sys.executable).parent / "spark-pipelines"
    env = {**os.environ, "SPARK_CONF_DIR": str(home.conf_dir), "PYSPARK_PYTHON": sys.executable,
           "PATH": f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for key in [k for k in env if k.startswith("SPARK_LOCAL_CONNECT")]:
        del env[key]
    runner = LocalRunner(config, home)
    with PeakMemory(home) as memory:
        start = time.perf_counter()
        for key in EXAMPLE_PIPELINES:
            spec = write_spec(config, key, home)
            datasets = runner.datasets([t.name for t in config.tables_of(key)])
            done = subprocess.run([str(exe), "run", "--spec", str(spec), "--refresh", ",".join(datasets)],
                                  cwd=config.root, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                # A bare CLI starts its own server on port 15002: another one running at the same time fails.
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
                raise SystemExit(f"bare spark-pipelines run of {key} failed:\n{tail}")
        seconds = time.perf_counter() - start
    return ("bare `spark-pipelines run` (baseline)", seconds, 0.0, memory.client_mib)


def timed_runs(label: str, config: ProjectConfig, home: LocalHome, keys: tuple[str, ...] = EXAMPLE_PIPELINES,
               ) -> tuple[Row, RunTiming]:
    with PeakMemory(home) as memory:
        timing = run_pipelines(config, home, keys)
    return (label, timing.seconds, memory.server_mib, memory.client_mib), timing


def dagster_run(config: ProjectConfig, home: LocalHome) -> Row:
    """Dagster `materialize` of every table of the example, in process, on the warm server."""
    from dagster import instance_for_test, materialize

    from etl_assets.dagster.assets import build_table_assets
    from etl_assets.dagster.resources import ENGINE_RESOURCE_KEY, default_engine_resource

    os.environ["ETL_ASSETS_HOME"] = str(home.root)
    with PeakMemory(home) as memory, instance_for_test() as instance:
        start = time.perf_counter()
        result = materialize(build_table_assets(config), instance=instance,
                             resources={ENGINE_RESOURCE_KEY: default_engine_resource(os.environ)})
        seconds = time.perf_counter() - start
    assert result.success
    return ("Dagster `materialize` of every asset, warm", seconds, memory.server_mib, memory.client_mib)


def example(rows: int, base: Path, cold_runner: bool) -> None:
    config = load_config(bare_shop(base))
    landing = base / f"landing_{rows}"
    generate(landing, rows=rows, seed=1)
    print(f"\n{rows:,} raw rows per source; {load()}", flush=True)
    results = _Table(f"| {rows:,} ", "x bare CLI", 0, "| raw rows ")
    results.append(bare_cli(config, fresh_home(base, f"bare_{rows}", landing)))
    if cold_runner:
        os.environ["ETL_ASSETS_WARM_SPARK"] = "0"
        cold = fresh_home(base, f"cold_{rows}", landing)
        results.append(timed_runs("our runner, Spark per run (`ETL_ASSETS_WARM_SPARK=0`)", config, cold)[0])
        os.environ["ETL_ASSETS_WARM_SPARK"] = "1"
    warm = fresh_home(base, f"warm_{rows}", landing)
    try:
        start = time.perf_counter()
        ensure_warm_spark(warm)
        results.append(("server cold start (apart from the runs)", time.perf_counter() - start, 0.0, 0.0))
        row, timing = timed_runs("first run on the started server", config, warm)
        results.append(row)
        for key, seconds in timing.per_pipeline.items():
            results.append((f"  first run of `{key}` (goal < 10 s)", seconds, 0.0, 0.0))
        row, timing = timed_runs("repeated run (goal < 5 s, <= 0.1 x baseline)", config, warm)
        results.append(row)
        for key, seconds in timing.per_pipeline.items():
            results.append((f"  repeated run of `{key}`", seconds, 0.0, 0.0))
        results.append(dagster_run(config, warm))
    finally:
        stop_warm_spark(warm)
    native = fresh_home(base, f"native_{rows}", landing)
    try:
        ensure_warm_spark(native)
        example_config = load_config(REPO / "config.yml")
        for label, short in (("native example: first run on a started server", "first run"),
                             ("native example: repeated run (goal < 5 s, <= 0.1 x baseline)", "repeated run")):
            row, timing = timed_runs(label, example_config, native)
            results.append(row)
            for key, seconds in timing.per_pipeline.items():
                results.append((f"  {short} of `{key}`", seconds, 0.0, 0.0))
    finally:
        stop_warm_spark(native)
    print(f"after: {load()}", flush=True)


def concurrency(base: Path, tables: int, rows: int) -> None:
    """Two independent pipelines through Dagster: in-process (one after the other) vs multiprocess."""
    import local_dagster_job
    from dagster import DagsterEventType, execute_job, instance_for_test, reconstructable
    from gen_local_project import generate as generate_project

    project = generate_project(base / "two_pipelines", tables=2 * tables, pipelines=2, rows=rows)
    config = load_config(project.config)
    home = LocalHome(project.home)
    keys = ("pipeline_0", "pipeline_1")
    os.environ.update(ETL_ASSETS_CONFIG=str(project.config), ETL_ASSETS_HOME=str(home.root), BENCH_PIPELINES=",".join(keys))
    print(f"\ntwo independent pipelines of {tables} tables, {rows:,} rows per bronze table; {load()}", flush=True)
    results = _Table("", "x runner repeated", 2)
    try:
        start = time.perf_counter()
        ensure_warm_spark(home)
        results.append(("server cold start", time.perf_counter() - start, 0.0, 0.0))
        results.append(timed_runs("runner: first run, one pipeline after the other", config, home, keys)[0])
        results.append(timed_runs("runner: repeated run, one after the other", config, home, keys)[0])
        for label, executor in (("Dagster, in-process executor (sequential)", {"in_process": {}}),
                                ("Dagster, multiprocess executor (2 at once)", {"multiprocess": {"max_concurrent": 2}}),
                                ("Dagster, in-process executor again", {"in_process": {}}),
                                ("Dagster, multiprocess executor again", {"multiprocess": {"max_concurrent": 2}})):
            with tempfile.TemporaryDirectory(dir=base) as dagster_home, \
                    instance_for_test(temp_dir=dagster_home) as instance, PeakMemory(home) as memory:
                start = time.perf_counter()
                with execute_job(reconstructable(local_dagster_job.pipelines_job), instance=instance,
                                 run_config={"execution": {"config": executor}}) as result:
                    seconds = time.perf_counter() - start
                    materialized = {e.asset_key.to_user_string() for e in
                                    result.filter_events(lambda e: e.event_type == DagsterEventType.ASSET_MATERIALIZATION)}
                    overlap = _step_overlap(instance, result.run_id)
                    if not result.success or len(materialized) != len(config.tables):
                        raise SystemExit(f"{label}: success={result.success}, {len(materialized)} of "
                                         f"{len(config.tables)} tables materialized")
            results.append((f"{label}, steps overlapped {overlap:.0f} s", seconds, memory.server_mib, memory.client_mib))
    finally:
        stop_warm_spark(home)
    print(f"after: {load()}", flush=True)


class _Table(list[Row]):
    """Rows of a Markdown table, each printed as it comes (a later failure keeps the earlier ones)."""

    def __init__(self, prefix: str, ratio: str, baseline: int, header_prefix: str = ""):
        super().__init__()
        self.prefix, self.baseline = prefix, baseline
        aligns = "|---:" if header_prefix else ""
        print(f"{header_prefix}| variant | seconds | {ratio} | server MiB | run MiB |\n{aligns}|---|---:|---:|---:|---:|",
              flush=True)

    def append(self, row: Row) -> None:
        super().append(row)
        variant, seconds, server, run = row
        base = self[self.baseline][1] if len(self) > self.baseline else 0.0
        ratio = f"{seconds / base:.2f}" if base else "-"
        print(f"{self.prefix}| {variant} | {seconds:.1f} | {ratio} | {fmt_mib(server)} | {fmt_mib(run)} |", flush=True)


def _step_overlap(instance, run_id: str) -> float:  # type: ignore[no-untyped-def]
    """Seconds during which both steps ran (0 when they ran one after the other)."""
    from dagster import DagsterEventType

    spans: dict[str, list[float]] = {}
    ends = (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE)
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.event_type in ends and event.step_key:
            spans.setdefault(event.step_key, []).append(entry.timestamp)
    windows = [(min(v), max(v)) for v in spans.values() if len(v) >= 2]
    if len(windows) < 2:
        return 0.0
    (a0, a1), (b0, b1) = windows[:2]
    return max(0.0, min(a1, b1) - max(a0, b0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="*", default=[10_000])
    parser.add_argument("--cold-runner", action="store_true", help="also time the runner with a Spark start per run")
    parser.add_argument("--concurrency", action="store_true", help="also time two pipelines at once through Dagster")
    parser.add_argument("--concurrency-tables", type=int, default=10, help="tables per pipeline (default 10)")
    parser.add_argument("--concurrency-rows", type=int, default=10_000, help="rows per bronze table (default 10,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            example(rows, Path(tmp), args.cold_runner)
        if args.concurrency:
            concurrency(Path(tmp), args.concurrency_tables, args.concurrency_rows)


if __name__ == "__main__":
    main()
