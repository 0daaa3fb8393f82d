"""The local engine on the Dagster side: one `spark-pipelines run` per pipeline step,
its progress in the Dagster log as it happens, a materialization per refreshed table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from dagster import Failure, MaterializeResult, MetadataValue

from etl_assets.engines import RefreshRequest
from etl_assets.graph import TableGraph
from etl_assets.local.home import LocalHome
from etl_assets.local.progress import FlowEvent, RunEvent
from etl_assets.local.runner import LocalRunner, RunOutcome

_TIME = "%Y-%m-%d %H:%M:%S"


def parquet_row_count(location: Path) -> int | None:
    """Rows in a table's Parquet files, read from their footers (no Spark needed)."""
    import pyarrow.parquet as pq

    if not location.exists():
        return None
    files = [p for p in location.rglob("*.parquet") if not p.name.startswith((".", "_"))]
    return sum(pq.read_metadata(f).num_rows for f in files)


class LocalEngine:
    """Runs updates on Apache Spark Declarative Pipelines on this machine."""

    name = "local"

    def refresh(self, request: RefreshRequest, context: Any) -> Iterator[MaterializeResult]:
        runner = LocalRunner(request.config)
        selected = TableGraph(request.config).execution_order(request.tables)
        running_since: dict[str, str] = {}
        done: set[str] = set()
        outcome = RunOutcome()
        for item in runner.run(request.pipeline.key, selected, request.full_refresh):
            if isinstance(item, str):
                if item.strip() and not item.lstrip().startswith("at "):
                    context.log.debug(item)
            elif isinstance(item, FlowEvent):
                self._log_flow(context, item)
                if item.status == "RUNNING":
                    running_since.setdefault(item.table, item.timestamp)
                if item.status == "COMPLETED" and item.table in selected and item.table not in done:
                    done.add(item.table)
                    yield self._materialization(request, runner.home, item.table, running_since.get(item.table), item.timestamp)
            elif isinstance(item, RunEvent):
                context.log.info(f"pipeline '{request.pipeline.name}': run {item.status}")
            else:
                outcome = item
        if outcome.returncode == 0 and outcome.run_status == "COMPLETED":
            # Tables whose flows carry other names: the run completed, so they were refreshed.
            for table in selected:
                if table not in done:
                    yield self._materialization(request, runner.home, table, None, None)
            return
        failed = sorted(t for t, s in outcome.table_status.items() if s == "FAILED")
        skipped = sorted(t for t, s in outcome.table_status.items() if s == "SKIPPED")
        raise Failure(
            description=(
                f"pipeline '{request.pipeline.name}' failed (exit code {outcome.returncode}); "
                f"failed: {', '.join(failed) or 'none reported'}; skipped for an upstream failure: "
                f"{', '.join(skipped) or 'none'}; refreshed: {', '.join(t for t in selected if t in done) or 'none'}\n"
                f"{outcome.error_text()}"
            ),
            metadata={"failed": failed, "skipped": skipped, "refreshed": sorted(done)},
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
        rows = parquet_row_count(location)
        if rows is not None:
            metadata["dagster/row_count"] = rows
        if start and end:
            metadata["duration_seconds"] = (datetime.strptime(end, _TIME) - datetime.strptime(start, _TIME)).total_seconds()
        return MaterializeResult(asset_key=request.asset_keys[table], metadata=metadata)
