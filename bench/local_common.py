"""What the local engine benchmarks share: timed pipeline runs, peak memory, raw data at scale.

Runs go through `LocalRunner.run` (whatever launcher it uses), so the figures follow the runner.
Peak memory is read from /proc: `VmHWM` (the most resident memory a process ever had) of the
home's Spark server and of every process this one started while a run was going (the
launcher, its JVM if any, the pipeline client), sampled twice a second.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from etl_assets.engines.local.home import LocalHome  # noqa: E402
from etl_assets.engines.local.progress import FlowEvent  # noqa: E402
from etl_assets.engines.local.runner import LocalRunner, RunOutcome  # noqa: E402
from etl_assets.engines.local.server import server_pids  # noqa: E402
from etl_assets.example.datagen import generate  # noqa: E402
from etl_assets.project.config import ProjectConfig  # noqa: E402

EXAMPLE_PIPELINES = ("customers_cdc", "orders")
MAX_ROWS_PER_FILE = 400_000  # datagen allows at most 492,750 distinct timestamps per file


def vm_hwm_kib(pid: int) -> int:
    """Peak resident memory of `pid` in KiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        found: list[int] = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
        return found
    except OSError:
        return []


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, children first."""
    out, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


class PeakMemory:
    """Samples the peak memory of the home's Spark server and of this process's descendants."""

    def __init__(self, home: LocalHome, interval: float = 0.5):
        self.home, self.interval = home, interval
        self.client_peaks: dict[int, int] = {}
        self.server_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _sample(self) -> None:
        servers = set(server_pids(self.home))
        for pid in servers:
            self.server_peak = max(self.server_peak, vm_hwm_kib(pid))
        for pid in descendants(os.getpid()):
            if pid not in servers:
                self.client_peaks[pid] = max(self.client_peaks.get(pid, 0), vm_hwm_kib(pid))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    @property
    def client_mib(self) -> float:
        """Sum of the peaks of the run's own processes (an upper bound of their joint peak), MiB."""
        return sum(self.client_peaks.values()) / 1024

    @property
    def server_mib(self) -> float:
        """Peak of the Spark server, MiB."""
        return self.server_peak / 1024


@dataclass
class RunTiming:
    """Wall seconds of a sequence of pipeline runs, per pipeline and per table flow."""

    seconds: float = 0.0
    per_pipeline: dict[str, float] = field(default_factory=dict)
    per_flow: dict[str, float] = field(default_factory=dict)  # RUNNING to COMPLETED, as streamed
    timed_out: bool = False


class RunTimeout(Exception):
    """A run went past its time limit and was stopped."""


def run_pipelines(config: ProjectConfig, home: LocalHome, keys: Sequence[str], limit: float | None = None,
                  timing: RunTiming | None = None) -> RunTiming:
    """Refresh every table of each pipeline in `keys`, one after the other, with `LocalRunner.run`.

    With `limit` (seconds for all of them) a run still going then is stopped (its processes,
    which this process started, get SIGTERM) and `RunTimeout` is raised.
    """
    timing = timing or RunTiming()
    runner = LocalRunner(config, home)
    start = time.perf_counter()
    for key in keys:
        began = time.perf_counter()
        running: dict[str, float] = {}
        watchdog = _Watchdog(start + limit - time.perf_counter()) if limit else None
        try:
            outcome: RunOutcome | None = None
            for item in runner.run(key, [t.name for t in config.tables_of(key)]):
                if isinstance(item, FlowEvent):
                    now = time.perf_counter()
                    if item.status == "RUNNING":
                        running.setdefault(item.table, now)
                    elif item.status == "COMPLETED" and item.table in running:
                        timing.per_flow[item.table] = now - running[item.table]
                elif isinstance(item, RunOutcome):
                    outcome = item
        finally:
            if watchdog:
                watchdog.cancel()
        timing.per_pipeline[key] = time.perf_counter() - began
        timing.seconds = time.perf_counter() - start
        if watchdog and watchdog.fired:
            timing.timed_out = True
            raise RunTimeout(f"{key} still running after {limit:.0f} s; stopped")
        if outcome is None or outcome.returncode != 0:
            raise SystemExit(f"{key} failed:\n{outcome.error_text() if outcome else 'no outcome'}")
    return timing


class _Watchdog:
    """Sends SIGTERM to this process's descendants (not the Spark server) after `seconds`."""

    def __init__(self, seconds: float):
        self.fired = False
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        for pid in reversed(descendants(os.getpid())):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()


def _chunk(args: tuple[Path, int, int]) -> list[Path]:
    folder, rows, seed = args
    return [f.path for f in generate(folder, rows=rows, seed=seed)]


def write_example_landing(landing: Path, rows: int, chunk: int = MAX_ROWS_PER_FILE, workers: int = 2) -> int:
    """Example raw data of `rows` lines per source as `etl-assets generate-data` writes it, in
    files of at most `chunk` lines (chunk i with seed i + 1, so each has its own customers and
    sizes up to 10 million stay within memory), generated by `workers` processes; returns the
    number of files per source. Up to `chunk` rows this is one `generate(..., seed=1)` file."""
    sizes = [chunk] * (rows // chunk) + ([rows % chunk] if rows % chunk else [])
    with tempfile.TemporaryDirectory(dir=landing.parent if landing.parent.exists() else None) as tmp:
        jobs = [(Path(tmp) / f"chunk{i}", size, i + 1) for i, size in enumerate(sizes)]
        if len(jobs) == 1 or workers < 2:
            written = [_chunk(job) for job in jobs]
        else:
            with ProcessPoolExecutor(workers) as pool:
                written = list(pool.map(_chunk, jobs))
        for index, paths in enumerate(written):
            for path in paths:
                target = landing / path.parent.name / f"part-{index:05d}.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, target)
    return len(sizes)


def fresh_home(base: Path, name: str, landing: Path | None = None) -> LocalHome:
    """A new home under `base`, with a copy (hard links) of `landing` as its landing folder."""
    home = LocalHome(base / name)
    if landing is not None:
        shutil.copytree(landing, home.landing, copy_function=os.link)
    return home


def load() -> str:
    """The load averages, as `uptime` prints them."""
    out = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return out[out.find("load average"):] if "load average" in out else out


def fmt_mib(value: float) -> str:
    """MiB with no decimals, or a dash when nothing was measured."""
    return f"{value:,.0f}" if value else "-"


def bare_shop(base: Path) -> Path:
    """A copy of the `shop` test scenario (the example's tables in the `etl_assets.ldp` style)
    that the bare `spark-pipelines` CLI runs: its SQL `AUTO CDC INTO` (Databricks syntax, which
    bare Spark does not parse) becomes the same SCD type 2 table in Python (the scenario's SCD type 1
    file with the target and type changed); its config.yml."""
    folder = base / "shop_bare"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(REPO / "tests" / "scenarios" / "shop", folder)
    silver = folder / "transformations" / "silver"
    (silver / "customers_history.sql").unlink()
    scd1 = (silver / "customers.py").read_text()
    scd2 = scd1.replace('target="customers"', 'target="customers_history"').replace(
        "stored_as_scd_type=1", "stored_as_scd_type=2")
    assert scd2.count("customers_history") == 1 and "stored_as_scd_type=2" in scd2, "the shop's customers.py changed"
    (silver / "customers_history.py").write_text(scd2)
    for text_file in (folder / "config.yml", folder / "resources" / "pipelines.yml"):
        text_file.write_text(text_file.read_text().replace("customers_history.sql", "customers_history.py"))
    return folder / "config.yml"


def rewrite_floor(home: LocalHome) -> tuple[float, dict[str, int]]:
    """Seconds the home's warm server takes to read and write once, as Parquet and with nothing
    computed, every table that is not a streaming table (the materialized views, AUTO CDC
    targets and expectation companions, which a run after new input in every source writes
    whole), and the rows of each: a floor under such a run on Parquet tables."""
    from pyspark.sql import SparkSession

    from etl_assets.engines.local.server import recorded_server
    from etl_assets.engines.local.tables import count_rows

    record = recorded_server(home)
    if record is None:
        raise SystemExit(f"no warm Spark server serves {home.root}")
    rows = {p: count_rows(p) for p in sorted(home.warehouse.iterdir())
            if p.is_dir() and not (p / "_spark_metadata").is_dir()}
    tables = [p for p, n in rows.items() if n]
    out = home.root / "rewrite_floor"
    spark = SparkSession.builder.remote(f"sc://localhost:{record['port']}/;token={record['token']}").create()
    try:
        started = time.perf_counter()
        for table in tables:
            spark.read.parquet(str(table)).write.mode("overwrite").parquet(str(out / table.name))
        seconds = time.perf_counter() - started
    finally:
        spark.stop()
        shutil.rmtree(out, ignore_errors=True)
    return seconds, {t.name: rows[t] or 0 for t in tables}
