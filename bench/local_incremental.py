"""What a run costs when little or nothing changed, against the first run, on the local engine.

    .venv/bin/python bench/local_incremental.py [--rows 200000] [--tables 200] [--pipelines 10]
        [--bare-rows 10000] [--repeats 20] [--starts 7] [--skip start,example,many,bare]

Every run goes through `LocalEngine.refresh` (what a Dagster step calls), all tables of each
pipeline selected, on the home's warm Spark server (its cold start is timed apart):

- example: the root config.yml with `--rows` raw lines per source (customers, orders): first
  run, a run with nothing new, a run after one new 1,000-line file per source; then `--repeats`
  runs each after a new 100-line file per source, with the server's peak memory after the first
  and the last of them (it must not grow); then the floor under a run with something new in
  every source on Parquet tables: every table that is not a streaming table read and written
  once by the warm server, nothing computed;
- many: a generated project (`gen_local_project.py`) of `--tables` tables in `--pipelines`
  pipelines: first run, nothing new, one new file in one source;
- bare: the `shop` test scenario (the example's tables in the `etl_assets.ldp` style, which bare
  Spark runs) at `--bare-rows`: a bare cold `spark-pipelines run` of every pipeline (baseline),
  then on our engine a first run and a run after new files in every source.

- start: the pipeline client's start (from starting it to its first line, after its imports),
  as a new Python process (baseline) and forked by the warm client host, `--starts` times each,
  interleaved; no Spark (the client is pointed at a port nobody listens on, and stopped).

Ratios are against the first run of the same case (or the bare CLI, or the new process), in
this run. Each row also says which tables were recomputed and which had nothing to do, and for
updates that ran flows, the seconds from the step's start to its first flow running.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from gen_local_project import _landing as generated_landing
from gen_local_project import generate as generate_project
from local_common import REPO, PeakMemory, bare_shop, fresh_home, load, rewrite_floor, write_example_landing

from etl_assets.engines.base import RefreshRequest
from etl_assets.engines.events import RunFinished, TableCompleted, TableStarted
from etl_assets.engines.local.engine import LocalEngine
from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.server import ensure_warm_spark, stop_warm_spark
from etl_assets.example.datagen import generate as generate_example
from etl_assets.project.config import ProjectConfig
from etl_assets.project.load import load_config

GOALS = {
    "example, nothing new": 0.08,
    "example, one 1,000-line file per source": 0.15,
    "example at 10M rows or more, one 1,000-line file per source": 0.05,
    "many tables, nothing new": 0.05,
    "many tables, one new file in one source": 0.10,
    "bare: new files / bare spark-pipelines run": 0.05,
}


FIRST_FLOW: list[float] = []
"""Per pipeline update that ran a flow: seconds from the step's start to its first flow running."""
FLOW_SECONDS: dict[str, float] = {}
"""Per table recomputed in the last `refresh_all`: seconds from its flow starting to its completion."""


def refresh_all(config: ProjectConfig, home: LocalHome) -> tuple[float, int, int, dict[str, str]]:
    """Every pipeline of `config`, one after the other: seconds, tables recomputed, tables skipped,
    and why each table was recomputed."""
    os.environ["ETL_ASSETS_HOME"] = str(home.root)
    engine = LocalEngine(home=home.root)
    recomputed = skipped = 0
    reasons: dict[str, str] = {}
    start = time.perf_counter()
    FIRST_FLOW.clear()
    FLOW_SECONDS.clear()
    started: dict[str, float] = {}
    for key, pipeline in config.pipelines.items():
        step = time.perf_counter()
        first = True
        for event in engine.refresh(RefreshRequest(config, pipeline, [t.name for t in config.tables_of(key)])):
            if isinstance(event, TableStarted):
                started[event.table] = time.perf_counter()
                if first:
                    FIRST_FLOW.append(time.perf_counter() - step)
                    first = False
            if isinstance(event, TableCompleted):
                if event.table in started:
                    FLOW_SECONDS[event.table] = time.perf_counter() - started[event.table]
                if event.metadata.get("refresh") == "recomputed":
                    recomputed += 1
                    reasons[event.table] = str(event.metadata.get("refresh_reason"))
                else:
                    skipped += 1
            elif isinstance(event, RunFinished) and not event.succeeded:
                raise SystemExit(f"{key} failed: {event.error_text[-2000:]}")
    return time.perf_counter() - start, recomputed, skipped, reasons


def report(label: str, run: tuple[float, int, int, dict[str, str]], base: float | None,
           goal: float | None = None) -> None:
    seconds, recomputed, skipped, reasons = run
    ratio = f"{seconds / base:6.3f}" if base else "     -"
    target = f"goal <= {goal:.2f}" if goal is not None else ""
    print(f"  {label:<48} {seconds:8.2f} s  x first {ratio}  {target:<12}  recomputed {recomputed}, "
          f"nothing to do {skipped}", flush=True)
    if FIRST_FLOW:
        print(f"    step start to first flow running: {', '.join(f'{s:.2f}' for s in FIRST_FLOW)} s "
              f"(goal <= 1 s on a warm server)", flush=True)
    if FLOW_SECONDS and os.environ.get("BENCH_FLOWS"):
        print("    flows: " + ", ".join(f"{t} {s:.1f}" for t, s in FLOW_SECONDS.items()) + " s", flush=True)
    if 0 < len(reasons) <= 4:
        print("    recomputed: " + "; ".join(f"{t} ({why})" for t, why in reasons.items()), flush=True)


def example(base: Path, rows: int, repeats: int) -> None:
    config = load_config(REPO / "config.yml")
    landing = base / "example_landing"
    write_example_landing(landing, rows)
    home = fresh_home(base, "example_home", landing)
    print(f"example, {rows:,} raw rows per source; {load()}", flush=True)
    try:
        started = time.perf_counter()
        ensure_warm_spark(home)
        print(f"  server cold start {time.perf_counter() - started:.1f} s", flush=True)
        first = refresh_all(config, home)
        report("first run", first, None)
        report("nothing new", refresh_all(config, home), first[0], GOALS["example, nothing new"])
        generate_example(home.landing, rows=1000, seed=1001)
        report("one 1,000-line file per source", refresh_all(config, home), first[0],
               GOALS["example at 10M rows or more, one 1,000-line file per source" if rows >= 10_000_000
                     else "example, one 1,000-line file per source"])
        peaks = []
        for n in range(repeats):
            generate_example(home.landing, rows=100, seed=2000 + n)
            with PeakMemory(home) as memory:
                refresh_all(config, home)
            peaks.append(memory.server_mib)
        if peaks:
            print(f"  {repeats} more runs, each after a 100-line file per source: server peak {peaks[0]:,.0f} MiB "
                  f"after the first, {peaks[-1]:,.0f} MiB after the last; {load()}", flush=True)
            print("    server peak after each: " + ", ".join(f"{p:,.0f}" for p in peaks) + " MiB", flush=True)
        floor, rows_of = rewrite_floor(home)
        print(f"  {'floor: non-streaming tables read, written once':<48} {floor:8.2f} s  x first "
              f"{floor / first[0]:6.3f}  ({sum(rows_of.values()):,} rows in {len(rows_of)} tables: "
              + ", ".join(f"{t} {n:,}" for t, n in rows_of.items()) + ")", flush=True)
    finally:
        stop_warm_spark(home)


def many(base: Path, tables: int, pipelines: int, rows: int) -> None:
    project = generate_project(base / "many", tables, pipelines, rows)
    config = load_config(project.config)
    home = LocalHome(project.home)
    print(f"many tables: {project.tables} tables in {pipelines} pipelines, {rows:,} rows per bronze table; {load()}",
          flush=True)
    try:
        ensure_warm_spark(home)
        first = refresh_all(config, home)
        report("first run", first, None)
        report("nothing new", refresh_all(config, home), first[0], GOALS["many tables, nothing new"])
        source = next(t.source for t in config.tables if t.source is not None)
        assert source is not None
        import random

        generated_landing(home.landing / source.path, 100, random.Random(3), index=1)
        report("one new file in one source", refresh_all(config, home), first[0],
               GOALS["many tables, one new file in one source"])
    finally:
        stop_warm_spark(home)


def bare(base: Path, rows: int) -> None:
    from local_engine import bare_cli

    shop = load_config(bare_shop(base))
    landing = base / "bare_landing"
    generate_example(landing, rows=rows, seed=1)
    print(f"bare CLI against our engine: the shop scenario, {rows:,} raw rows per source; {load()}", flush=True)
    _, seconds, _, _ = bare_cli(shop, fresh_home(base, "bare_cli_home", landing))
    print(f"  bare `spark-pipelines run` of every pipeline, cold (baseline) {seconds:8.2f} s", flush=True)
    home = fresh_home(base, "bare_engine_home", landing)
    try:
        ensure_warm_spark(home)
        report("our engine, first run", refresh_all(shop, home), None)
        generate_example(home.landing, rows=1000, seed=1001)
        report("our engine, new files in every source", refresh_all(shop, home), seconds,
               GOALS["bare: new files / bare spark-pipelines run"])
        report("our engine, nothing new", refresh_all(shop, home), seconds)
    finally:
        stop_warm_spark(home)


def start(base: Path, starts: int) -> None:
    import signal
    import socket
    import statistics
    import subprocess
    import sys

    from etl_assets.engines.local.client_host import CLIENT_MODULE, host_key, socket_path, spawn_host, start_client

    folder = Path(os.path.realpath(base)) / "start"
    folder.mkdir()
    path = socket_path(folder)
    if path is None:
        raise SystemExit(f"--workdir {base} is too long a path for the client host's socket")
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])  # the host's "server"
    try:
        spawn_host(path, stand_in.pid, host_key(), folder / "host.log")
        deadline = time.monotonic() + 300
        while not path.exists():
            if time.monotonic() > deadline:
                raise SystemExit("the client host did not start: " + (folder / "host.log").read_text())
            time.sleep(0.2)
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        spec = folder / "spec.yml"
        spec.write_text(f"name: p\nstorage: file://{folder}/storage\nlibraries: []\n")
        env = {**os.environ, "ETL_ASSETS_CONNECT_PORT": str(port), "ETL_ASSETS_CONNECT_TOKEN": "t",
               "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", CLIENT_MODULE, "--spec", str(spec)]
        new, forked = [], []
        for _ in range(starts):
            began = time.perf_counter()
            process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert process.stdout is not None
            process.stdout.readline()
            new.append(time.perf_counter() - began)
            process.send_signal(signal.SIGTERM)
            process.wait()
            began = time.perf_counter()
            hosted = start_client(path, host_key(), command, env, folder)
            if hosted is None:
                raise SystemExit("the client host did not serve")
            hosted.stdout.readline()
            forked.append(time.perf_counter() - began)
            hosted.terminate()
            hosted.wait(timeout=30)
    finally:
        stand_in.kill()
        stand_in.wait()
    baseline = statistics.median(new)
    print(f"pipeline client start, median of {starts}; {load()}", flush=True)
    print(f"  {'as a new Python process (baseline)':<48} {baseline:8.2f} s", flush=True)
    print(f"  {'forked by the warm client host':<48} {statistics.median(forked):8.2f} s  x new process "
          f"{statistics.median(forked) / baseline:6.3f}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="example raw rows per source (default 200,000)")
    parser.add_argument("--repeats", type=int, default=20, help="example runs after small files, for memory")
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--pipelines", type=int, default=10)
    parser.add_argument("--many-rows", type=int, default=1000, help="raw events per generated bronze table")
    parser.add_argument("--bare-rows", type=int, default=10_000)
    parser.add_argument("--starts", type=int, default=7, help="client starts of each kind")
    parser.add_argument("--skip", default="", help="cases to leave out: start,example,many,bare")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        if "start" not in skip:
            start(Path(tmp), args.starts)
        if "example" not in skip:
            example(Path(tmp), args.rows, args.repeats)
        if "many" not in skip:
            many(Path(tmp), args.tables, args.pipelines, args.many_rows)
        if "bare" not in skip:
            bare(Path(tmp), args.bare_rows)


if __name__ == "__main__":
    main()
