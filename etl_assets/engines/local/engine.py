"""The local engine on the Dagster side: one `spark-pipelines run` per pipeline step,
its progress in the Dagster log as it happens, a materialization per refreshed table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity, Failure, MaterializeResult, MetadataValue

from etl_assets.engines.base import RefreshRequest
from etl_assets.errors import EngineUnavailableError
from etl_assets.project.graph import TableGraph
from etl_assets.engines.local.home import LocalHome
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
from etl_assets.conventions import quality_dataset_name

_TIME = "%Y-%m-%d %H:%M:%S"


class LocalEngine:
    """Runs updates on Apache Spark Declarative Pipelines on this machine."""

    name = "local"

    def refresh(self, request: RefreshRequest, context: Any) -> Iterator[MaterializeResult | AssetCheckResult]:
        if request.pipeline.continuous:
            raise EngineUnavailableError(
                f"pipeline '{request.pipeline.key}' is continuous, and Spark Declarative Pipelines has no "
                "continuous mode: nothing was refreshed. Set `continuous: false` for local runs, or use the "
                "Databricks engine (ETL_ASSETS_ENGINE=databricks)."
            )
        runner = LocalRunner(request.config)
        graph = TableGraph(request.config)
        selected = graph.execution_order(request.tables)
        running_since: dict[str, str] = {}
        finished: dict[str, tuple[str | None, str | None]] = {}  # completed, not yet reported
        reported: list[str] = []

        def report(ready_only: bool) -> Iterator[MaterializeResult]:
            # Dagster wants a multi-asset's outputs in dependency order; flows may report
            # completion out of it (a streaming flow can finish after its downstream view).
            for table in selected:
                if table not in finished or table in reported:
                    continue
                if ready_only and any(up in selected and up not in reported for up in graph.upstream[table]):
                    continue
                reported.append(table)
                yield self._materialization(request, runner.home, table, *finished[table])

        snapshots = self._snapshot_views(runner.home, request.pipeline.key, selected)
        quality_before = {
            t: parquet_files(runner.home.table_location(quality_dataset_name(t)))
            for t in selected if request.config.table(t).expectations
        }
        outcome = RunOutcome()
        for item in runner.run(request.pipeline.key, selected, request.full_refresh):
            if isinstance(item, str):
                if item.strip() and not item.lstrip().startswith("at "):
                    context.log.debug(item)
            elif isinstance(item, FlowEvent):
                self._log_flow(context, item)
                if item.status == "RUNNING":
                    running_since.setdefault(item.table, item.timestamp)
                    self._warn_if_early(context, graph, selected, finished, item.table)
                if item.status == "COMPLETED" and item.table in selected:
                    finished.setdefault(item.table, (running_since.get(item.table), item.timestamp))
                    yield from report(ready_only=True)
            elif isinstance(item, RunEvent):
                context.log.info(f"pipeline '{request.pipeline.name}': run {item.status}")
            else:
                outcome = item
        if outcome.returncode == 0 and outcome.run_status == "COMPLETED":
            # Tables whose flows carry other names: the run completed, so they were refreshed.
            for table in selected:
                finished.setdefault(table, (None, None))
            yield from report(ready_only=False)
            yield from self._check_results(request, runner.home, reported, quality_before)
            return
        yield from report(ready_only=False)
        yield from self._check_results(request, runner.home, reported, quality_before)
        failed = sorted(t for t, s in outcome.table_status.items() if s == "FAILED")
        for table, saved in snapshots.items():
            if table not in reported:
                # Open-source Spark empties a view's Parquet files before computing it: a failed
                # or skipped refresh would leave it empty, where Databricks keeps the last version.
                restore(runner.home.table_location(table), saved)
                context.log.warning(f"{table} was not refreshed: its previous data was put back")
        skipped = sorted(t for t, s in outcome.table_status.items() if s == "SKIPPED")
        raise Failure(
            description=(
                f"pipeline '{request.pipeline.name}' failed (exit code {outcome.returncode}); "
                f"failed: {', '.join(failed) or 'none reported'}; skipped for an upstream failure: "
                f"{', '.join(skipped) or 'none'}; refreshed: {', '.join(reported) or 'none'}\n"
                f"{outcome.error_text()}"
            ),
            metadata={"failed": failed, "skipped": skipped, "refreshed": reported},
        )

    @staticmethod
    def _snapshot_views(home: LocalHome, pipeline_key: str, tables: list[str]) -> dict[str, Any]:
        """Hard-link snapshots of the batch-written tables of this update, to undo a failed overwrite."""
        saved = {}
        root = home.root / "snapshots" / pipeline_key
        for table in tables:
            location = home.table_location(table)
            if not is_streaming_output(location) and snapshot(location, root / table):
                saved[table] = root / table
        return saved

    @staticmethod
    def _check_results(request: RefreshRequest, home: LocalHome, tables: list[str],
                       before: dict[str, dict]) -> Iterator[AssetCheckResult]:
        """One result per expectation of each refreshed table, from its companion dataset."""
        for table in tables:
            expectations = request.config.table(table).expectations
            if not expectations:
                continue
            counts = rule_counts(home.table_location(quality_dataset_name(table)), before.get(table, {}))
            for expectation in expectations:
                severity = AssetCheckSeverity.ERROR if expectation.action == "fail" else AssetCheckSeverity.WARN
                metadata: dict[str, Any] = {"action": expectation.action, "condition": expectation.condition}
                if expectation.name not in counts:
                    metadata["error"] = (
                        f"no per-row results for '{expectation.name}' in this update: declare the rule in "
                        f"{request.config.relative_transformation_path(table)} with etl_assets.ldp "
                        "(table/materialized_view expectations=)"
                    )
                    yield AssetCheckResult(asset_key=request.asset_keys[table], check_name=expectation.name,
                                           passed=False, severity=severity, metadata=metadata)
                    continue
                passed, failed = counts[expectation.name]
                yield AssetCheckResult(
                    asset_key=request.asset_keys[table], check_name=expectation.name, passed=failed == 0,
                    severity=severity, metadata={**metadata, "passed_records": passed, "failed_records": failed},
                )

    @staticmethod
    def _warn_if_early(context: Any, graph: TableGraph, selected: list[str],
                       finished: dict[str, Any], table: str) -> None:
        waiting = [up for up in graph.upstream.get(table, ()) if up in selected and up not in finished]
        if waiting:
            context.log.warning(
                f"{table} started before {', '.join(waiting)} finished: Spark did not see the dependency, so "
                f"{table} may read old data. In its query, use select() instead of withColumn/drop/"
                "withColumnRenamed, which make Spark resolve the input against the catalog."
            )

    @staticmethod
    def _log_flow(context: Any, event: FlowEvent) -> None:
        if event.status == "FAILED":
            context.log.error(f"flow {event.flow} FAILED")
        elif event.status == "SKIPPED":
            context.log.warning(f"flow {event.flow} SKIPPED due to upstream failure")
        else:
            context.log.info(f"flow {event.flow} {event.status}")

    @staticmethod
    def _materialization(request: RefreshRequest, home: LocalHome, table: str, start: str | None,
                         end: str | None) -> MaterializeResult:
        location = home.table_location(table)
        metadata: dict[str, Any] = {
            "table_location": MetadataValue.path(str(location)),
            "full_refresh": request.full_refresh,
            "engine": "local",
        }
        version = table_version(location)
        if version is not None:
            metadata["table_version"] = version  # lets the pipeline observer tell our writes apart
        rows = count_rows(location)
        if rows is not None:
            metadata["dagster/row_count"] = rows
        if start and end:
            metadata["duration_seconds"] = (datetime.strptime(end, _TIME) - datetime.strptime(start, _TIME)).total_seconds()
        return MaterializeResult(asset_key=request.asset_keys[table], metadata=metadata)
