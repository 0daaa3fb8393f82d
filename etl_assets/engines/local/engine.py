"""The local engine: one Spark Declarative Pipelines run per update, on this machine.

Each update is one run of the pipeline client (`etl_assets.engines.local.client`, which does what
`spark-pipelines run` does, without its JVM launcher) against the home's warm Spark Connect
server. Its JSON-lines events feed the flow tracker (`etl_assets.engines.flows`), which makes
the neutral events; the engine knows nothing of Dagster.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from etl_assets.conventions import quality_dataset_name
from etl_assets.engines.base import ObservedRefresh, Provenance, RefreshRequest, TableWritten, Verdict
from etl_assets.engines.checks import check_query, quality_from_row, quote
from etl_assets.engines.events import (
    COLUMNS,
    NOT_REPORTED,
    EngineEvent,
    FlowStatus,
    Log,
    QualityReported,
    RunFinished,
    TableCompleted,
    TableStarted,
    UpdateStatus,
)
from etl_assets.engines.flows import FlowTracker
from etl_assets.engines.local.changes import ChangeTracker, Decision, SettledWatcher, refreshed, unchanged_events
from etl_assets.engines.local.guard import UpdateGuard
from etl_assets.engines.local.home import LocalHome, home_path
from etl_assets.engines.local.landing import local_listing
from etl_assets.engines.local.locks import read_locks, update_locks
from etl_assets.engines.local.progress import FlowEvent, RunEvent
from etl_assets.engines.local.recovery import checkpoint_reset
from etl_assets.engines.local.runner import LocalRunner, RunOutcome
from etl_assets.engines.local.server import check_server_settings, ensure_warm_spark, recorded_server, stop_warm_spark
from etl_assets.engines.local.signals import interrupts_held
from etl_assets.engines.local.tables import (
    columns,
    committed_since,
    count_rows,
    data_files,
    describe_version,
    parquet_files,
    rule_counts,
    table_version,
    version_time,
)
from etl_assets.errors import DataError, EngineUnavailableError
from etl_assets.project.config import Expectation, ProjectConfig
from etl_assets.project.graph import TableGraph

_CONNECT_ENV = ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE", "SPARK_LOCAL_REMOTE", "SPARK_CONNECT_AUTHENTICATE_TOKEN")


class LocalEngine:
    """Runs updates on Apache Spark Declarative Pipelines on this machine.

    Args:
        home: the folder holding all local state; None means `.etl_assets/` in the project
            folder (the default code location passes $ETL_ASSETS_HOME).
        warm_spark: keep one Spark Connect server per home running between runs.
        master: the Spark master the server (the driver) runs on; None means `local[*]`. On a
            cluster the home must be a folder every node sees at the same path (see
            `etl_assets.engines.local.home`).
        spark_conf: static settings of the server (executors' memory and cores, ...).

    >>> engine = LocalEngine(warm_spark=True)
    >>> engine.name, engine.kind
    ('local', 'spark')
    """

    name: ClassVar[str] = "local"
    kind: ClassVar[str] = "spark"
    runs_continuous: ClassVar[bool] = False
    has_local_landing: ClassVar[bool] = True
    nothing_observed: ClassVar[str] = "no table was changed outside Dagster since the last tick"

    def __init__(self, home: str | Path | None = None, warm_spark: bool = True, lock_timeout_seconds: float = 3600,
                 master: str | None = None, spark_conf: Mapping[str, str] | None = None):
        self.home = home_path(home) if home else None
        self.warm_spark = warm_spark
        self.lock_timeout_seconds = lock_timeout_seconds
        self.master = master
        self.spark_conf = dict(spark_conf or {})

    def home_for(self, config: ProjectConfig) -> LocalHome:
        """The local state folder serving `config`'s project, with the master its server runs on."""
        root = self.home.resolve() if self.home else LocalHome.for_project(config.root).root
        return LocalHome.configured(root, self.master, self.spark_conf)

    def runner(self, config: ProjectConfig, home: LocalHome) -> LocalRunner:
        """What runs an update's pipeline client (the contract tests put a scripted client here)."""
        return LocalRunner(config, home, warm_spark=self.warm_spark)

    @classmethod
    def table_name(cls, config: ProjectConfig, table: str) -> str:
        """`spark_catalog.default.<table>`: the name Spark gives the managed table."""
        return f"spark_catalog.default.{table}"

    def refresh(self, request: RefreshRequest) -> Iterator[EngineEvent]:
        """Run one update of the pipeline client refreshing the request's tables; events as it goes.

        The pipeline's locks are held throughout; tables the update does not complete are put
        back as they were (also when it is interrupted, see `guard` and `signals`)."""
        if request.validate_only:
            yield from self._dry_run(request)
            return
        if request.pipeline.continuous:
            raise EngineUnavailableError(
                f"pipeline '{request.pipeline.key}' is continuous, and Spark Declarative Pipelines has no "
                "continuous mode: nothing was refreshed. Set `continuous: false` for local runs, or use the "
                "Databricks engine."
            )
        home = self.home_for(request.config)
        try:
            home.prepare()
        except OSError as exc:
            raise DataError(
                f"cannot use the local state folder {home.root}: {exc.strerror} ({exc.filename}); nothing was "
                "refreshed. Set ETL_ASSETS_HOME (or the local engine resource's home) to a writable folder"
            ) from None
        # A failed update stops the server: one started otherwise (another master) must be refused first.
        check_server_settings(home)
        runner = self.runner(request.config, home)
        graph = TableGraph(request.config)
        selected = graph.execution_order(request.tables)
        writes = runner.datasets(selected)
        pipeline = request.pipeline.key
        reads = sorted({up for t in selected for up in graph.upstream.get(t, ())
                        if request.config.pipeline_of(up).key != pipeline})
        waits: list[str] = []
        with update_locks(home.locks, pipeline, writes, reads, timeout=self.lock_timeout_seconds,
                          on_wait=waits.append):
            for message in waits:
                yield Log(message, "warning")
            guard = UpdateGuard(home, pipeline)
            if guard.pending() and self.warm_spark:
                # The unfinished update's flows may still be running on the server: stop it first.
                stop_warm_spark(home)
            recovered = guard.recover()
            if recovered:
                yield Log(f"an earlier update of pipeline '{request.pipeline.name}' did not finish: put back "
                          f"{', '.join(recovered)} as they were before it", "warning")
            if not request.full_refresh:
                _refuse_lost_streaming_tables(request, home, graph, selected)
            tracker = ChangeTracker(request.config, home, pipeline)
            reset = checkpoint_reset(home, pipeline, runner.datasets(request.reset_checkpoint_tables))
            if request.full_refresh_tables or request.reset_checkpoint_tables:  # recovery always runs
                tracker.forget([*request.full_refresh_tables, *request.reset_checkpoint_tables])
            decision = tracker.decide(selected, request.full_refresh, graph.upstream)
            yield from unchanged_events(request.config, home, decision, self.name)
            if not decision.run:
                yield RunFinished(UpdateStatus.COMPLETED, detail="local run: nothing to do, no input of a selected table changed")
                return
            selected = [t for t in selected if t in decision.run]
            writes = runner.datasets(selected)
            tracker.forget(writes)
            guard.protect(writes)
            try:
                for line in reset.apply():
                    yield Log(line, "warning")
                yield from self._tracked(tracker, decision, graph, runner, selected,
                                         self._run(request, home, runner, graph, selected, writes, guard))
            except BaseException:
                # Interrupted (the run was terminated, Ctrl-C): the server may still be running our
                # flows, so stop it before putting tables back; the next run starts a new one. A
                # second interrupt (Dagster forwards one to each step) must not cut this short.
                with interrupts_held():
                    if self.warm_spark:
                        stop_warm_spark(home)
                    guard.rollback()
                raise

    @staticmethod
    def _tracked(tracker: ChangeTracker, decision: Decision, graph: TableGraph, runner: LocalRunner,
                 selected: list[str], events: Iterator[EngineEvent]) -> Iterator[EngineEvent]:
        """The update's events, each recomputed table's saying why; once it has completed, what
        each table read is kept, so that the next update can tell whether it has anything to do."""
        watcher = SettledWatcher(graph.upstream, selected, lambda t: table_version(tracker.home.table_location(t)))
        for event in events:
            watcher.see(event)
            if isinstance(event, RunFinished) and event.succeeded:
                try:
                    tracker.record(watcher.completed, {t: runner.datasets([t]) for t in selected},
                                   watcher.settled(), datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))
                except OSError as exc:
                    yield Log(f"could not keep what the update read ({exc}): the next update recomputes "
                              "its tables", "warning")
            yield refreshed(event, decision)

    def _run(self, request: RefreshRequest, home: LocalHome, runner: LocalRunner, graph: TableGraph,
             selected: list[str], writes: list[str], guard: UpdateGuard) -> Iterator[EngineEvent]:
        quality_before = {
            t: parquet_files(home.table_location(quality_dataset_name(t)))
            for t in selected if request.config.table(t).expectations
        }
        outcome = RunOutcome()
        started_ns = time.time_ns()
        running_since: dict[str, str] = {}
        finished_at: dict[str, str] = {}
        tracker = FlowTracker(selected, lambda table, reported: self._completed(
            request, home, table, running_since.get(table), finished_at.get(table)))
        # Spark reports a streaming flow's COMPLETED before a failure of the same flow surfaces
        # (then retries it), so a completion is final only once a flow reading the table starts,
        # or the run has ended with the table still COMPLETED: until then it is held here.
        held: dict[str, str] = {}  # dataset -> time of its last COMPLETED, not yet final
        last: dict[str, FlowStatus] = {}

        def finalize(datasets: list[str]) -> Iterator[EngineEvent]:
            for dataset in datasets:
                if dataset not in held or last.get(dataset) is not FlowStatus.COMPLETED:
                    continue
                finished_at[dataset] = held.pop(dataset)
                guard.release(dataset)
                yield from tracker.flow(dataset, FlowStatus.COMPLETED)

        fully = request.full_refresh or [t for t in selected if request.fully(t)]
        for item in runner.run(request.pipeline.key, selected, fully):
            if isinstance(item, str):
                line_log = _line_log(item)
                if line_log is not None:
                    yield line_log
            elif isinstance(item, FlowEvent):
                yield Log(f"flow {item.flow} {item.status}", "debug")
                table, status = item.table, item.status
                last[table] = status
                if status is FlowStatus.COMPLETED and table in writes:
                    held[table] = item.timestamp
                elif status.final:
                    held.pop(table, None)
                if status in (FlowStatus.STARTING, FlowStatus.RUNNING):
                    yield from finalize(list(graph.upstream.get(table, ())))
                if status is FlowStatus.COMPLETED:
                    continue
                if status is FlowStatus.RUNNING:
                    running_since.setdefault(table, item.timestamp)
                events = tracker.flow(table, status)
                yield from events
                if any(isinstance(e, TableStarted) for e in events):
                    waiting = [up for up in graph.upstream.get(table, ())
                               if up in selected and up not in tracker.completed and up not in held]
                    if waiting:
                        yield Log(_early_warning(table, waiting), "warning")
            elif isinstance(item, RunEvent):
                yield Log(f"pipeline '{request.pipeline.name}': run {item.status}")
            else:
                outcome = item
        succeeded = outcome.returncode == 0 and outcome.run_status is UpdateStatus.COMPLETED
        if not succeeded:
            # The run failed: Spark's last word on a flow may be a COMPLETED printed before its
            # failure. Only what storage shows as committed during this run counts.
            for dataset in list(held):
                if not committed_since(home, request.pipeline.key, dataset, started_ns):
                    held.pop(dataset)
        yield from finalize(list(held))
        if succeeded:
            for dataset in writes:
                guard.release(dataset)
        else:
            client_lost = outcome.run_status is None and bool(last)
            with interrupts_held():
                if client_lost:
                    # The client ended while flows ran (a signal, a crash): the server may still be
                    # running them and would write after the tables are put back. Stop it first.
                    stop_warm_spark(home)
                # Open-source Spark empties a view's files before computing it and may move a
                # checkpoint on before committing: a table the run did not complete goes back.
                put_back = guard.rollback()
            if client_lost:
                yield Log("the pipeline client ended during the run: the local Spark server was stopped so "
                          "that none of the update's flows writes after its tables are put back", "warning")
            for table in put_back:
                yield Log(f"{table} was not refreshed: its previous data was put back", "warning")
        end = UpdateStatus.COMPLETED if succeeded else UpdateStatus.FAILED
        if not succeeded and outcome.run_status not in (None, UpdateStatus.COMPLETED):
            end = outcome.run_status
        # Tables whose flows carry other names complete here, at the end of a completed run.
        *ended, finished = tracker.finish(end, detail=f"local run, exit code {outcome.returncode}",
                                          error_text="" if succeeded else outcome.error_text())
        yield from ended
        for table in tracker.completed:
            if request.config.table(table).expectations:
                counts, rows, known = rule_counts(home.table_location(quality_dataset_name(table)),
                                                  quality_before.get(table, {}))
                yield QualityReported(
                    table, counts, rows_checked=rows, declared_known=known,
                    hint=(f"declare the rule in {request.config.relative_transformation_path(table)} with "
                          "etl_assets.ldp (table/materialized_view expectations=)"),
                )
        yield finished

    def _dry_run(self, request: RefreshRequest) -> Iterator[EngineEvent]:
        """The selected tables' definitions analyzed on the warm server, as `spark-pipelines
        dry-run` does: nothing runs, nothing is written, so no table is locked."""
        home = self.home_for(request.config)
        home.prepare()
        tracker = FlowTracker(list(request.tables), lambda table, reported: [])
        outcome = RunOutcome()
        for item in self.runner(request.config, home).run(request.pipeline.key, list(request.tables), dry=True):
            if isinstance(item, str):
                line_log = _line_log(item)
                if line_log is not None:
                    yield line_log
            elif isinstance(item, FlowEvent):
                yield from tracker.flow(item.table, item.status)
            elif isinstance(item, RunOutcome):
                outcome = item
        failed = [t for t in request.tables if tracker.status.get(t) is FlowStatus.FAILED]
        ok = outcome.returncode == 0 and not failed
        yield from tracker.finish(UpdateStatus.COMPLETED if ok else UpdateStatus.FAILED,
                                  detail=f"pipeline client exit code {outcome.returncode}",
                                  error_text="" if ok else outcome.error_text())

    def evaluate_checks(self, config: ProjectConfig, table: str,
                        expectations: Sequence[Expectation]) -> QualityReported:
        """The expectations' conditions counted over the table as it is, on the home's warm Spark
        server (started if needed); nothing is refreshed. Waits while an update rewrites the table."""
        home = self.home_for(config)
        location = home.table_location(table)
        if not data_files(location):
            raise DataError(
                f"table '{table}' has no data on the local engine yet ({location}), so its checks cannot be "
                "evaluated; materialize the table first (its checks run with it)"
            )
        waits: list[str] = []
        with read_locks(home.locks, [table], f"checks of '{table}'", timeout=self.lock_timeout_seconds,
                        on_wait=waits.append):
            row = self._query(home, check_query(quote("spark_catalog", "default", table), expectations), table)
        return quality_from_row(table, expectations, row, {"table_location": location, "engine": self.name})

    def _query(self, home: LocalHome, sql: str, table: str) -> list[Any]:
        """The first row of `sql` run on the home's Spark Connect server."""
        from pyspark.errors import PySparkException
        from pyspark.sql import SparkSession

        ensure_warm_spark(home)
        record = recorded_server(home)
        if record is None:
            raise EngineUnavailableError(f"the local Spark server of {home.root} stopped before the checks of "
                                         f"'{table}' could run; run them again")
        # pyspark marks the whole process as Spark Connect when a remote session is made
        # (environment variables): put them back, so sessions made later in this process are
        # whatever they would have been.
        saved = {name: os.environ.get(name) for name in _CONNECT_ENV}
        try:
            spark = SparkSession.builder.remote(f"sc://localhost:{record['port']}/;token={record['token']}").create()
            try:
                return list(spark.sql(sql).collect()[0])
            finally:
                spark.stop()
        except PySparkException as exc:
            raise DataError(f"the checks of '{table}' could not be evaluated: {str(exc).splitlines()[0]}") from None
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            if not self.warm_spark:
                stop_warm_spark(home)

    def _completed(self, request: RefreshRequest, home: LocalHome, table: str, start: str | None,
                   end: str | None) -> Iterator[EngineEvent]:
        """The table's one info line (outcome and rows), then its completion."""
        location = home.table_location(table)
        metadata: dict[str, Any] = {"table_location": location, "full_refresh": request.fully(table),
                                    "engine": self.name}
        version = table_version(location)
        if version is not None:
            metadata["table_commit"] = describe_version(version)
            metadata["table_version"] = version  # lets the pipeline observer tell our writes apart
        if start and end:
            metadata["duration_seconds"] = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        found = columns(location)
        if found:
            metadata[COLUMNS] = found
        rows = count_rows(location)
        if rows is None:
            metadata["row_count"] = NOT_REPORTED
        took = f" in {metadata['duration_seconds']:.0f} s" if "duration_seconds" in metadata else ""
        yield Log(f"{table}: COMPLETED{took}, {rows if rows is not None else 'unknown'} rows")
        yield TableCompleted(table, row_count=rows, metadata=metadata)

    def landing_listing(self, config: ProjectConfig, source_path: str, pipeline_key: str) -> tuple[str, dict[str, int]]:
        """Data files under `<home>/landing/<source_path>`, with their arrival times."""
        folder = self.home_for(config).landing / source_path
        return str(folder), local_listing(folder)

    def local_landing(self, config: ProjectConfig) -> Path:
        """`<home>/landing`: where the local pipelines read raw files."""
        return self.home_for(config).landing

    def observe(self, config: ProjectConfig, cursor: dict[str, Any],
                judge: Callable[[Provenance], Verdict]) -> tuple[list[ObservedRefresh], dict[str, Any]]:
        """Tables whose current version no run of ours recorded: written by hand or a notebook.

        Each Spark commit changes a table's version (`table_version`); the cursor keeps the last
        version looked at per table, so an unchanged table costs one `stat`.
        """
        home = self.home_for(config)
        found = []
        for table in config.tables:
            location = home.table_location(table.name)
            version = table_version(location)
            if version is None or cursor.get(table.name) == version:
                continue
            verdict = judge(TableWritten(table.name, version, version_time(version)))
            if verdict == "busy":
                continue  # a run of ours may be writing it: look again once it has ended
            cursor[table.name] = version
            if verdict == "ours":
                continue
            metadata: dict[str, Any] = {"table_location": location, "engine": self.name,
                                        "table_commit": describe_version(version), "table_version": version}
            table_columns = columns(location)
            if table_columns:
                metadata[COLUMNS] = table_columns
            completed = TableCompleted(table.name, row_count=count_rows(location), metadata=metadata)
            found.append(ObservedRefresh(config.pipeline_of(table).key, [completed], key=version,
                                         metadata={"observed": True}))
        return found, cursor


def _refuse_lost_streaming_tables(request: RefreshRequest, home: LocalHome, graph: TableGraph,
                                  selected: list[str]) -> None:
    """A streaming table whose files are gone but whose checkpoint says data was read would
    stay empty (the checkpoint skips what it already read) and empty everything downstream."""
    pipeline = request.pipeline.key
    looked = {t for t in graph.upstream_closure(selected) if request.config.pipeline_of(t).key == pipeline}
    lost = [t for t in sorted(looked)
            if any(any(c.rglob("commits/[0-9]*")) for c in home.checkpoints(pipeline, t))
            and not (home.table_location(t) / "_spark_metadata").is_dir() and t not in request.full_refresh_tables]
    if lost:
        raise DataError(
            f"the files of streaming table(s) {', '.join(lost)} are gone ({home.table_location(lost[0])}) but their "
            "checkpoints record data already read, so a refresh would leave them and everything downstream empty; "
            "nothing was refreshed. Rebuild them with a full refresh (run config "
            f"{{ops: {{{pipeline}: {{config: {{full_refresh: true}}}}}}}})"
        )


# What Spark and its JVM print on every start: true of every run, so no news to anyone reading one.
_NOISE = (
    "Using incubator modules",
    "resolves to a loopback address",
    "Set SPARK_LOCAL_IP",
    "log4j",
    "Setting default log level",
    "To adjust logging level",
    "NativeCodeLoader",
    "Unable to load native-hadoop library",
)
_ERROR = re.compile(r"\b(ERROR|FATAL)\b|Traceback|Exception\b|Error:")
_WARNING = re.compile(r"\bWARN(ING)?\b")


def _line_log(line: str) -> Log | None:
    """A line Spark printed, at its level; None for start-up noise and stack frames."""
    if not line.strip() or line.lstrip().startswith("at ") or any(n in line for n in _NOISE):
        return None
    if _ERROR.search(line):
        return Log(line, "error")
    if _WARNING.search(line):
        return Log(line, "warning")
    return Log(line, "debug")


def _early_warning(table: str, waiting: list[str]) -> str:
    return (
        f"{table} started before {', '.join(waiting)} finished: Spark did not see the dependency, so "
        f"{table} may read old data. In its query, use select() instead of withColumn/drop/"
        "withColumnRenamed, which make Spark resolve the input against the catalog."
    )
