"""The one path from an engine's neutral events to Dagster results.

`stream_results` turns the stream of one update into `MaterializeResult`s (in dependency
order, as Dagster requires of a multi-asset), `AssetCheckResult`s for the tables'
expectations, log lines, and one `PipelineFailedError` with the same wording on every engine.
`observed_events` does the same for refreshes the pipeline observer found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetMaterialization,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
)

from etl_assets import errors
from etl_assets.engines.base import ObservedRefresh, RefreshRequest
from etl_assets.engines.events import (
    COLUMNS,
    EngineEvent,
    Link,
    Log,
    QualityReported,
    RunFinished,
    TableCompleted,
    TableFailed,
    TableSkipped,
    TableStarted,
    UpdateStarted,
    UpdateStatus,
)
from etl_assets.project.config import Expectation, ProjectConfig
from etl_assets.project.graph import TableGraph

DagsterResult = MaterializeResult | AssetCheckResult


def dagster_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Neutral metadata as Dagster shows it: paths and links typed, other values as they are."""
    shown: dict[str, Any] = {}
    for key, value in metadata.items():
        if key == COLUMNS:
            shown["dagster/column_schema"] = TableSchema(columns=[
                TableColumn(name=c["name"], type=c["type"], description=c.get("description")) for c in value])
        elif isinstance(value, Link):
            shown[key] = MetadataValue.url(str(value))
        elif isinstance(value, Path):
            shown[key] = MetadataValue.path(str(value))
        else:
            shown[key] = value
    return shown


def materialization_metadata(event: TableCompleted) -> dict[str, Any]:
    """The metadata of a table's materialization (row count under Dagster's standard key)."""
    metadata = dagster_metadata(event.metadata)
    if event.row_count is not None:
        metadata["dagster/row_count"] = event.row_count
    return metadata


def check_outcomes(expectations: Iterable[Expectation], quality: QualityReported | None,
                   *, missing_fails: bool = True) -> list[dict[str, Any]]:
    """check_name, passed, severity and metadata of each expectation, from what an update reported.

    The one place a check's verdict is decided, for every engine and the observer: it passes
    when its failing rows stay within the expectation's tolerance (none by default), and its
    metadata carries passed, failed and dropped records and the failed share. An update that
    checked no rows passes every check with zero counts. An expectation the update said nothing
    about otherwise fails with a message saying so (`missing_fails`), or is left out (the
    observer: a slice of an update may not cover it).
    """
    outcomes = []
    counts = quality.counts if quality is not None else {}
    extra = dagster_metadata(quality.metadata) if quality is not None else {}
    nothing_checked = quality is not None and quality.rows_checked == 0 and not quality.declared_known
    for expectation in expectations:
        severity = AssetCheckSeverity.ERROR if expectation.action == "fail" else AssetCheckSeverity.WARN
        metadata: dict[str, Any] = {"action": expectation.action, "condition": expectation.condition, **extra}
        if expectation.max_failed_share is not None:
            metadata["max_failed_share"] = expectation.max_failed_share
        if expectation.max_failed_records is not None:
            metadata["max_failed_records"] = expectation.max_failed_records
        if expectation.name in counts:
            passed, failed = counts[expectation.name]
        elif nothing_checked:
            passed, failed = 0, 0
        else:
            if missing_fails:
                hint = f": {quality.hint}" if quality is not None and quality.hint else ""
                metadata["error"] = f"the update reported no results for expectation '{expectation.name}'{hint}"
                outcomes.append({"check_name": expectation.name, "passed": False, "severity": severity,
                                 "metadata": metadata})
            continue
        checked = passed + failed
        dropped = failed if expectation.action == "drop" and (quality is None or quality.dropped) else 0
        metadata.update({
            "rows_checked": checked,
            "passed_records": passed,
            "failed_records": failed,
            "dropped_records": dropped,
            "failed_share": round(failed / checked, 6) if checked else 0.0,
        })
        if quality is not None and expectation.name in quality.nulls:
            metadata["null_records"] = quality.nulls[expectation.name]
        outcomes.append({"check_name": expectation.name, "passed": expectation.within_tolerance(passed, failed),
                         "severity": severity, "metadata": metadata})
    return outcomes


def evaluated_checks(quality: QualityReported, config: ProjectConfig, keys: Mapping[str, AssetKey],
                     selected_checks: Iterable[AssetCheckKey]) -> Iterator[AssetCheckResult]:
    """The selected check results of a table's expectations evaluated without a refresh."""
    wanted = set(selected_checks)
    for outcome in check_outcomes(config.table(quality.table).expectations, quality):
        if AssetCheckKey(keys[quality.table], outcome["check_name"]) in wanted:
            yield AssetCheckResult(asset_key=keys[quality.table], **outcome)


class _Run:
    """The state of one update's results: what completed, what was reported, what failed."""

    def __init__(self, request: RefreshRequest, keys: Mapping[str, AssetKey],
                 selected_checks: Iterable[AssetCheckKey] | None):
        self.request = request
        self.keys = keys
        self.graph = TableGraph(request.config)
        self.selected = self.graph.execution_order(request.tables)
        self.selected_checks = set(selected_checks) if selected_checks is not None else None
        self.completed: dict[str, TableCompleted] = {}
        self.reported: list[str] = []
        self.quality: dict[str, QualityReported] = {}
        self.checked: set[str] = set()
        self.failed: dict[str, str] = {}
        self.skipped: dict[str, str] = {}

    def ready(self, final: bool) -> Iterator[DagsterResult]:
        """Results of tables completed but not yet reported, each followed by its checks: only
        those whose selected upstreams are already reported, or all of them when `final`."""
        # Dagster wants a multi-asset's outputs in dependency order; flows may report
        # completion out of it (a streaming flow can finish after its downstream view).
        for table in self.selected:
            if table not in self.completed or table in self.reported:
                continue
            if not final and any(up in self.selected and up not in self.reported for up in self.graph.upstream[table]):
                continue
            self.reported.append(table)
            yield MaterializeResult(asset_key=self.keys[table], metadata=materialization_metadata(self.completed[table]))
            if table in self.quality:
                yield from self.checks(table)

    def checks(self, table: str) -> Iterator[AssetCheckResult]:
        """The selected check results of a table's expectations, once per table."""
        if table in self.checked:
            return
        self.checked.add(table)
        for outcome in check_outcomes(self.request.config.table(table).expectations, self.quality.get(table)):
            key = AssetCheckKey(self.keys[table], outcome["check_name"])
            if self.selected_checks is None or key in self.selected_checks:
                yield AssetCheckResult(asset_key=self.keys[table], **outcome)

    def failure(self, finished: RunFinished) -> Exception:
        """The `PipelineFailedError` for a failed update, naming failed, skipped and refreshed tables."""
        pipeline = self.request.pipeline
        failed = [t for t in self.selected if t in self.failed]
        skipped = [t for t in self.selected if self.skipped.get(t) == "upstream_failure"]
        not_refreshed = [t for t in self.selected if t not in self.reported and t not in self.failed]
        description = errors.pipeline_failure_message(
            pipeline.name, finished.status, finished.detail, failed=failed, skipped=skipped,
            not_refreshed=not_refreshed, refreshed=self.reported, error_text=finished.error_text,
        )
        metadata = {**dagster_metadata(finished.metadata), "failed": failed, "skipped": skipped,
                    "refreshed": list(self.reported)}
        return errors.PipelineFailedError(description=description, metadata=metadata)


def stream_results(
    events: Iterable[EngineEvent],
    request: RefreshRequest,
    keys: Mapping[str, AssetKey],
    log: Any,
    *,
    selected_checks: Iterable[AssetCheckKey] | None = None,
    on_update_started: Callable[[UpdateStarted], None] | None = None,
) -> Iterator[DagsterResult]:
    """Dagster results of one update's events, as they arrive.

    Args:
        events: the engine's stream for `request`, `RunFinished` last.
        request: the update the events belong to.
        keys: table name -> asset key (from the translator).
        log: where log lines go (`context.log`).
        selected_checks: the checks the run selected; results of other checks are not yielded.
        on_update_started: called when the engine says which update it started (run tags).

    Raises:
        PipelineFailedError: the update did not complete, or completed without a word on a selected
            table (never a success then); tables reported before stay reported.
    """
    run = _Run(request, keys, selected_checks)
    finished: RunFinished | None = None
    iterator = iter(events)
    try:
        for event in iterator:
            if isinstance(event, Log):
                getattr(log, event.level)(event.message)
            elif isinstance(event, UpdateStarted):
                if on_update_started is not None:
                    on_update_started(event)
            elif isinstance(event, TableStarted):
                continue
            elif isinstance(event, TableCompleted):
                if event.table in run.selected:
                    run.failed.pop(event.table, None)  # a retried flow may complete after failing
                    run.completed.setdefault(event.table, event)
                    yield from run.ready(final=False)
            elif isinstance(event, TableFailed):
                run.failed[event.table] = event.message
            elif isinstance(event, TableSkipped):
                run.skipped[event.table] = event.reason
            elif isinstance(event, QualityReported):
                run.quality[event.table] = event
                if event.table in run.reported:
                    yield from run.checks(event.table)
            elif isinstance(event, RunFinished):
                finished = event
    finally:
        # A terminated run closes this generator: close the engine's too, so it stops the update.
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    yield from run.ready(final=True)
    for table in run.reported:
        yield from run.checks(table)
    if finished is None:
        raise errors.EngineUnavailableError(
            f"the engine stopped without saying how pipeline '{request.pipeline.name}' ended; "
            "nothing beyond the tables reported above is known to be refreshed"
        )
    if not finished.succeeded:
        raise run.failure(finished)
    missing = [t for t in run.selected if t not in run.reported]
    if missing and finished.metadata.get("continuous"):
        # A continuous pipeline refreshes on its own: the pipeline observer reports its tables.
        log.info(f"pipeline '{request.pipeline.name}' is continuous ({finished.detail}): "
                 f"{', '.join(missing)} are reported by the pipeline observer as it refreshes them")
    elif missing:
        # The engines complete every selected table of a completed update (etl_assets.engines.flows);
        # a stream that does not is never taken for a success.
        raise run.failure(replace(finished, status=UpdateStatus.UNKNOWN, detail=(
            f"{finished.detail}, completed without reporting {', '.join(missing)}, so their state is").lstrip(", ")))


def observed_events(refresh: ObservedRefresh, config: ProjectConfig,
                    keys: Mapping[str, AssetKey]) -> list[AssetMaterialization | AssetCheckEvaluation]:
    """Asset events for a refresh the pipeline observer found (same metadata as our runs, plus
    the refresh's own, such as `observed: true`)."""
    found: list[AssetMaterialization | AssetCheckEvaluation] = []
    quality = {e.table: e for e in refresh.events if isinstance(e, QualityReported)}
    for event in refresh.events:
        if not isinstance(event, TableCompleted):
            continue
        key = keys[event.table]
        found.append(AssetMaterialization(
            asset_key=key, metadata={**materialization_metadata(event), **dagster_metadata(refresh.metadata)}))
        if event.table in quality:
            for outcome in check_outcomes(config.table(event.table).expectations, quality[event.table],
                                          missing_fails=False):
                found.append(AssetCheckEvaluation(asset_key=key, **outcome))
    return found
