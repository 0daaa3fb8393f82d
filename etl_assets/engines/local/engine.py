"""The local engine: one Spark Declarative Pipelines run per update, on this machine.

Each update is a `spark-pipelines run` against the home's warm Spark Connect server. Its
printed progress becomes neutral events; the engine knows nothing of Dagster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from etl_assets.conventions import quality_dataset_name
from etl_assets.engines.base import ObservedRefresh, RefreshRequest, Verdict
from etl_assets.engines.events import (
    EngineEvent,
    Log,
    QualityReported,
    RunFinished,
    TableCompleted,
    TableFailed,
    TableSkipped,
    TableStarted,
)
from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.landing import local_listing
from etl_assets.engines.local.progress import FlowEvent, RunEvent
from etl_assets.engines.local.runner import LocalRunner, RunOutcome
from etl_assets.engines.local.tables import (
    count_rows,
    is_streaming_output,
    parquet_files,
    restore,
    rule_counts,
    snapshot,
    table_version,
)
from etl_assets.errors import EngineUnavailableError
from etl_assets.project.config import ProjectConfig
from etl_assets.project.graph import TableGraph

_TIME = "%Y-%m-%d %H:%M:%S"


class LocalEngine:
    """Runs updates on Apache Spark Declarative Pipelines on this machine.

    Args:
        home: the folder holding all local state; None means $ETL_ASSETS_HOME, else
            `.etl_assets/` in the project folder.
        warm_spark: keep one Spark Connect server per home running between runs.

    >>> engine = LocalEngine(warm_spark=True)
    >>> engine.name, engine.kind
    ('local', 'spark')
    """

    name: ClassVar[str] = "local"
    kind: ClassVar[str] = "spark"
    runs_continuous: ClassVar[bool] = False
    has_local_landing: ClassVar[bool] = True

    def __init__(self, home: str | Path | None = None, warm_spark: bool = True):
        self.home = Path(home) if home else None
        self.warm_spark = warm_spark

    def home_for(self, config: ProjectConfig) -> LocalHome:
        """The local state folder serving `config`'s project."""
        return LocalHome(self.home.resolve()) if self.home else LocalHome.for_project(config.root)

    def table_name(self, config: ProjectConfig, table: str) -> str:
        """`spark_catalog.default.<table>`: the name Spark gives the managed table."""
        return f"spark_catalog.default.{table}"

    def refresh(self, request: RefreshRequest) -> Iterator[EngineEvent]:
        """Run one `spark-pipelines run` refreshing the request's tables; events as it goes."""
        if request.pipeline.continuous:
            raise EngineUnavailableError(
                f"pipeline '{request.pipeline.key}' is continuous, and Spark Declarative Pipelines has no "
                "continuous mode: nothing was refreshed. Set `continuous: false` for local runs, or use the "
                "Databricks engine."
            )
        home = self.home_for(request.config)
        runner = LocalRunner(request.config, home, warm_spark=self.warm_spark)
        graph = TableGraph(request.config)
        selected = graph.execution_order(request.tables)
        running_since: dict[str, str] = {}
        completed: list[str] = []
        snapshots = _snapshot_views(home, request.pipeline.key, selected)
        quality_before = {
            t: parquet_files(home.table_location(quality_dataset_name(t)))
            for t in selected if request.config.table(t).expectations
        }
        outcome = RunOutcome()
        for item in runner.run(request.pipeline.key, selected, request.full_refresh):
            if isinstance(item, str):
                if item.strip() and not item.lstrip().startswith("at "):
                    yield Log(item, "debug")
            elif isinstance(item, FlowEvent):
                yield _flow_log(item)
                if item.table not in selected:
                    continue
                if item.status == "RUNNING" and item.table not in running_since:
                    running_since[item.table] = item.timestamp
                    yield TableStarted(item.table)
                    waiting = [up for up in graph.upstream.get(item.table, ())
                               if up in selected and up not in completed]
                    if waiting:
                        yield Log(_early_warning(item.table, waiting), "warning")
                elif item.status == "COMPLETED" and item.table not in completed:
                    completed.append(item.table)
                    yield self._completed(request, home, item.table, running_since.get(item.table), item.timestamp)
                elif item.status == "FAILED":
                    yield TableFailed(item.table)
                elif item.status == "SKIPPED":
                    yield TableSkipped(item.table, "upstream_failure")
                elif item.status == "EXCLUDED":
                    yield TableSkipped(item.table, "excluded")
            elif isinstance(item, RunEvent):
                yield Log(f"pipeline '{request.pipeline.name}': run {item.status}")
            else:
                outcome = item
        succeeded = outcome.returncode == 0 and outcome.run_status == "COMPLETED"
        if succeeded:
            # Tables whose flows carry other names: the run completed, so they were refreshed.
            for table in selected:
                if table not in completed:
                    completed.append(table)
                    yield self._completed(request, home, table, None, None)
        for table in completed:
            if request.config.table(table).expectations:
                yield QualityReported(
                    table,
                    rule_counts(home.table_location(quality_dataset_name(table)), quality_before.get(table, {})),
                    hint=(f"declare the rule in {request.config.relative_transformation_path(table)} with "
                          "etl_assets.ldp (table/materialized_view expectations=)"),
                )
        if not succeeded:
            for table, saved in snapshots.items():
                if table not in completed:
                    # Open-source Spark empties a view's Parquet files before computing it: a failed
                    # or skipped refresh would leave it empty, where Databricks keeps the last version.
                    restore(home.table_location(table), saved)
                    yield Log(f"{table} was not refreshed: its previous data was put back", "warning")
        yield RunFinished(
            status="COMPLETED" if succeeded else (outcome.run_status if outcome.run_status not in (None, "COMPLETED")
                                                  else "FAILED"),
            detail=f"local run, exit code {outcome.returncode}",
            error_text="" if succeeded else outcome.error_text(),
        )

    def _completed(self, request: RefreshRequest, home: LocalHome, table: str, start: str | None,
                   end: str | None) -> TableCompleted:
        location = home.table_location(table)
        metadata: dict[str, Any] = {"table_location": location, "full_refresh": request.full_refresh,
                                    "engine": self.name}
        version = table_version(location)
        if version is not None:
            metadata["table_version"] = version  # lets the pipeline observer tell our writes apart
        if start and end:
            metadata["duration_seconds"] = (datetime.strptime(end, _TIME) - datetime.strptime(start, _TIME)).total_seconds()
        return TableCompleted(table, row_count=count_rows(location), metadata=metadata)

    def landing_listing(self, config: ProjectConfig, source_path: str, pipeline_key: str) -> tuple[str, dict[str, int]]:
        """Data files under `<home>/landing/<source_path>`, with their arrival times."""
        folder = self.home_for(config).landing / source_path
        return str(folder), local_listing(folder)

    def observe(self, config: ProjectConfig, cursor: dict[str, Any],
                judge: Callable[[str, str], Verdict]) -> tuple[list[ObservedRefresh], dict[str, Any]]:
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
            verdict = judge(table.name, version)
            if verdict == "busy":
                continue  # a run of ours may be writing it: look again once it has ended
            cursor[table.name] = version
            if verdict == "ours":
                continue
            completed = TableCompleted(table.name, row_count=count_rows(location), metadata={
                "table_location": location, "engine": self.name, "table_version": version})
            found.append(ObservedRefresh(config.pipeline_of(table).key, [completed], key=version,
                                         metadata={"observed": True}))
        return found, cursor


def _snapshot_views(home: LocalHome, pipeline_key: str, tables: list[str]) -> dict[str, Path]:
    """Hard-link snapshots of the batch-written tables of this update, to undo a failed overwrite."""
    saved = {}
    root = home.root / "snapshots" / pipeline_key
    for table in tables:
        location = home.table_location(table)
        if not is_streaming_output(location) and snapshot(location, root / table):
            saved[table] = root / table
    return saved


def _flow_log(event: FlowEvent) -> Log:
    if event.status == "FAILED":
        return Log(f"flow {event.flow} FAILED", "error")
    if event.status == "SKIPPED":
        return Log(f"flow {event.flow} SKIPPED due to upstream failure", "warning")
    return Log(f"flow {event.flow} {event.status}")


def _early_warning(table: str, waiting: list[str]) -> str:
    return (
        f"{table} started before {', '.join(waiting)} finished: Spark did not see the dependency, so "
        f"{table} may read old data. In its query, use select() instead of withColumn/drop/"
        "withColumnRenamed, which make Spark resolve the input against the catalog."
    )
