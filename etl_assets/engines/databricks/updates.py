"""The Databricks engine on the Dagster side: one pipeline update per step with
`refresh_selection`, followed to its end, each table's result reported as it arrives."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from dagster import AssetCheckResult, AssetCheckSeverity, Failure, MaterializeResult, MetadataValue
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import InvalidState, ResourceConflict

from etl_assets.project.config import Expectation
from etl_assets.engines.databricks.client import DatabricksApiError, api_errors, call, workspace_client
from etl_assets.engines.databricks.events import EventReader
from etl_assets.engines.databricks.lookup import resolve_pipeline_id
from etl_assets.engines.databricks.settings import DatabricksSettings
from etl_assets.engines.base import RefreshRequest
from etl_assets.project.graph import TableGraph

TERMINAL = {"COMPLETED", "FAILED", "CANCELED"}
ACTIVE = {"QUEUED", "CREATED", "WAITING_FOR_RESOURCES", "INITIALIZING", "RESETTING", "SETTING_UP_TABLES",
          "RUNNING", "STOPPING"}


@dataclass
class TableProgress:
    """What the event log said of one table in this update."""

    status: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    dropped_records: int = 0
    expectations: dict[str, list[int]] = field(default_factory=dict)  # name -> [passed, failed]
    errors: list[str] = field(default_factory=list)
    completed: bool = False  # a flow of the table completed in these events (its last status may differ)


class DatabricksEngine:
    """Runs updates on a Databricks workspace through the Pipelines API."""

    name = "databricks"

    def __init__(self, client_factory: Callable[[DatabricksSettings], WorkspaceClient] = workspace_client,
                 settings: DatabricksSettings | None = None, sleep: Callable[[float], None] = time.sleep):
        self.client_factory = client_factory
        self.settings = settings or DatabricksSettings.from_env()
        self.sleep = sleep

    def refresh(self, request: RefreshRequest, context: Any) -> Iterator[MaterializeResult | AssetCheckResult]:
        w = self.client_factory(self.settings)
        pipeline_id = resolve_pipeline_id(w, request.pipeline)
        graph = TableGraph(request.config)
        selected = graph.execution_order(request.tables)
        if request.pipeline.continuous:
            yield from self._continuous(w, pipeline_id, request, graph, selected, context)
            return
        update_id = self._start(w, pipeline_id, request, selected, context)
        tag_update(context, request.pipeline.key, update_id)
        link = update_link(w, pipeline_id, update_id)
        context.log.info(f"pipeline '{request.pipeline.name}': update {update_id} started: {link}")
        progress: dict[str, TableProgress] = {t: TableProgress() for t in selected}
        run_errors: list[str] = []
        reported: list[str] = []
        reader = EventReader(w, pipeline_id, update_id)
        finished = False
        try:
            state = None
            delay = self.settings.poll_seconds
            while True:
                state = self._state(w, pipeline_id, update_id, context)
                for event in reader.read_new():
                    apply_event(event, progress, run_errors, context.log)
                yield from self._ready(request, graph, selected, progress, reported, update_id, pipeline_id, link)
                if state in TERMINAL:
                    break
                self.sleep(delay)
                delay = min(delay * 1.5, self.settings.max_poll_seconds)
            finished = True
        finally:
            if not finished:
                self._stop(w, pipeline_id, update_id, context)
        yield from self._ready(request, graph, selected, progress, reported, update_id, pipeline_id, link, final=True)
        yield from self._checks(request, progress, reported, update_id)
        if state == "COMPLETED":
            missing = [t for t in selected if t not in reported]
            if missing:
                context.log.warning(f"update {update_id} completed without reporting {', '.join(missing)}")
            return
        failed = [t for t in selected if progress[t].status == "FAILED"]
        skipped = [t for t in selected if progress[t].status in ("SKIPPED", "EXCLUDED", "STOPPED")]
        messages = [m for t in failed for m in progress[t].errors] + run_errors
        raise Failure(
            description=(
                f"pipeline '{request.pipeline.name}' update {update_id} {state}; failed: {', '.join(failed) or 'none'}; "
                f"not refreshed: {', '.join(skipped) or 'none'}; refreshed: {', '.join(reported) or 'none'}\n"
                + "\n".join(dict.fromkeys(messages))
            ),
            metadata={"update_id": update_id, "update_url": MetadataValue.url(link), "failed": failed,
                      "refreshed": reported},
        )

    # -- continuous pipelines -----------------------------------------------------------

    def _continuous(self, w: WorkspaceClient, pipeline_id: str, request: RefreshRequest, graph: TableGraph,
                    selected: list[str], context: Any) -> Iterator[MaterializeResult]:
        """A continuous pipeline already refreshes everything: make sure it runs, then report
        what its current update has refreshed so far. No update per materialization."""
        update_id = self._active_update(w, pipeline_id)
        if update_id is None:
            update_id = call(w.config, f"starting continuous pipeline '{request.pipeline.name}'",
                             lambda: w.pipelines.start_update(pipeline_id)).update_id
            tag_update(context, request.pipeline.key, update_id)
            context.log.info(f"continuous pipeline '{request.pipeline.name}' was not running: started update "
                             f"{update_id}; its tables are reported as it refreshes them (pipeline observer)")
            return
        progress: dict[str, TableProgress] = {t: TableProgress() for t in selected}
        for event in EventReader(w, pipeline_id, update_id).read_new():
            apply_event(event, progress, [], context.log)
        link = update_link(w, pipeline_id, update_id)
        refreshed = [t for t in selected if progress[t].status in ("COMPLETED", "RUNNING", "IDLE")
                     and progress[t].metrics]
        context.log.info(f"continuous pipeline '{request.pipeline.name}' is running (update {update_id}); "
                         f"refreshed so far: {', '.join(refreshed) or 'nothing reported yet'}")
        for table in refreshed:
            yield MaterializeResult(
                asset_key=request.asset_keys[table],
                metadata={**materialization_metadata(progress[table], update_id, pipeline_id, link, False),
                          "continuous": True},
            )

    # -- starting -----------------------------------------------------------------------

    def _start(self, w: WorkspaceClient, pipeline_id: str, request: RefreshRequest, selected: list[str],
               context: Any) -> str:
        selection = request.config.tables_of(request.pipeline.key)
        ordered = [t.name for t in selection if t.name in set(selected)]  # config order
        kwargs = {"full_refresh_selection": ordered} if request.full_refresh else {"refresh_selection": ordered}
        deadline = time.monotonic() + self.settings.wait_active_seconds
        waited = False
        while True:
            active = self._active_update(w, pipeline_id)
            if active is None:
                with api_errors(w.config, f"starting an update of pipeline '{request.pipeline.name}'"):
                    try:
                        return w.pipelines.start_update(pipeline_id, **kwargs).update_id
                    except (ResourceConflict, InvalidState):
                        # Another update began between our look and our start: wait for it too.
                        active = "(started by someone else just now)"
            if time.monotonic() >= deadline:
                raise Failure(
                    description=(
                        f"pipeline '{request.pipeline.name}' still has an active update {active} after "
                        f"{self.settings.wait_active_seconds:.0f} s; nothing was started. Stop it in the workspace or "
                        "raise ETL_ASSETS_DATABRICKS_WAIT_ACTIVE_SECONDS."
                    )
                )
            if not waited:
                context.log.info(f"pipeline '{request.pipeline.name}' has an active update {active}; waiting for it "
                                 f"to end (at most {self.settings.wait_active_seconds:.0f} s)")
                waited = True
            self.sleep(self.settings.poll_seconds)

    @staticmethod
    def _active_update(w: WorkspaceClient, pipeline_id: str) -> str | None:
        info = call(w.config, f"reading pipeline {pipeline_id}", lambda: w.pipelines.get(pipeline_id))
        for update in info.latest_updates or []:
            if update.state is not None and update.state.value in ACTIVE:
                return update.update_id
        return None

    # -- following ----------------------------------------------------------------------

    def _state(self, w: WorkspaceClient, pipeline_id: str, update_id: str, context: Any) -> str:
        deadline = time.monotonic() + self.settings.reconnect_seconds
        while True:
            try:
                update = call(w.config, f"reading update {update_id}",
                              lambda: w.pipelines.get_update(pipeline_id, update_id)).update
                return update.state.value if update and update.state else "UNKNOWN"
            except requests.exceptions.ConnectionError as exc:
                if time.monotonic() >= deadline:
                    raise DatabricksApiError(
                        f"lost the connection to {w.config.host} for {self.settings.reconnect_seconds:.0f} s while "
                        f"following update {update_id}; it may still be running: {link_hint(w, pipeline_id)}"
                    ) from exc
                context.log.warning(f"connection to {w.config.host} lost while polling; retrying")
                self.sleep(self.settings.poll_seconds)

    @staticmethod
    def _ready(request: RefreshRequest, graph: TableGraph, selected: list[str], progress: dict[str, TableProgress],
               reported: list[str], update_id: str, pipeline_id: str, link: str,
               final: bool = False) -> Iterator[MaterializeResult]:
        # Dagster wants a multi-asset's outputs in dependency order.
        for table in selected:
            if table in reported or progress[table].status != "COMPLETED":
                continue
            if not final and any(up in selected and up not in reported for up in graph.upstream[table]):
                continue
            reported.append(table)
            yield MaterializeResult(
                asset_key=request.asset_keys[table],
                metadata=materialization_metadata(progress[table], update_id, pipeline_id, link, request.full_refresh),
            )

    @staticmethod
    def _checks(request: RefreshRequest, progress: dict[str, TableProgress], reported: list[str],
                update_id: str) -> Iterator[AssetCheckResult]:
        for table in reported:
            for outcome in expectation_outcomes(request.config.table(table).expectations, progress[table], update_id):
                yield AssetCheckResult(asset_key=request.asset_keys[table], **outcome)

    def _stop(self, w: WorkspaceClient, pipeline_id: str, update_id: str, context: Any) -> None:
        """The run ended before the update: stop the update we started, if it still runs."""
        try:
            state = w.pipelines.get_update(pipeline_id, update_id).update.state.value
            if state in ACTIVE:
                w.pipelines.stop(pipeline_id)
                context.log.warning(f"stopped update {update_id} of pipeline {pipeline_id}")
        except Exception as exc:  # the run is ending anyway; say what could not be done
            context.log.error(f"could not stop update {update_id} of pipeline {pipeline_id}: {exc}")


def apply_event(event: dict, progress: dict[str, TableProgress], run_errors: list[str], log: Any) -> None:
    """Fold one event-log event into the tables' progress; errors of no table go to `run_errors`."""
    origin = event.get("origin") or {}
    table = origin.get("dataset_name")
    errors = [e.get("message", "") for e in ((event.get("error") or {}).get("exceptions") or [])]
    if event.get("level") == "ERROR" or errors:
        text = "; ".join(m for m in errors if m) or event.get("message", "")
        if table in progress:
            progress[table].errors.append(f"{table}: {text}")
        else:
            run_errors.append(text)
        log.error(f"{table or 'pipeline'}: {text}")
    flow = (event.get("details") or {}).get("flow_progress")
    if event.get("event_type") != "flow_progress" or not flow or table not in progress:
        if event.get("event_type") == "update_progress":
            log.info(event.get("message", ""))
        return
    record = progress[table]
    record.status = flow.get("status", record.status)
    record.completed = record.completed or record.status == "COMPLETED"
    log.info(f"{table}: {record.status}")
    metrics = flow.get("metrics") or {}
    for key, value in metrics.items():
        record.metrics[key] = record.metrics.get(key, 0) + (value or 0)
    quality = flow.get("data_quality") or {}
    record.dropped_records += quality.get("dropped_records") or 0
    for expectation in quality.get("expectations") or []:
        counts = record.expectations.setdefault(expectation.get("name"), [0, 0])
        counts[0] += expectation.get("passed_records") or 0
        counts[1] += expectation.get("failed_records") or 0


UPDATE_TAG_PREFIX = "etl_assets/update."


def tag_update(context: Any, pipeline_key: str, update_id: str) -> None:
    """Record on the Dagster run which update it started, so observers can tell ours apart."""
    instance, run = getattr(context, "instance", None), getattr(context, "run", None)
    if instance is not None and run is not None:
        instance.add_run_tags(run.run_id, {f"{UPDATE_TAG_PREFIX}{pipeline_key}": update_id})


def update_link(w: WorkspaceClient, pipeline_id: str, update_id: str) -> str:
    return f"{w.config.host.rstrip('/')}/#joblist/pipelines/{pipeline_id}/updates/{update_id}"


def materialization_metadata(record: TableProgress, update_id: str, pipeline_id: str, link: str,
                             full_refresh: bool) -> dict[str, Any]:
    """What a table's materialization says of an update, whoever started it."""
    return {
        "num_output_rows": record.metrics.get("num_output_rows", 0),
        "num_upserted_rows": record.metrics.get("num_upserted_rows", 0),
        "num_deleted_rows": record.metrics.get("num_deleted_rows", 0),
        "dropped_records": record.dropped_records,
        "update_id": update_id,
        "pipeline_id": pipeline_id,
        "update_url": MetadataValue.url(link),
        "full_refresh": full_refresh,
        "engine": "databricks",
    }


def expectation_outcomes(expectations: Sequence[Expectation], record: TableProgress, update_id: str,
                         missing_fails: bool = True) -> list[dict[str, Any]]:
    """check_name, passed, severity and metadata of each expectation, from what an update reported.

    An expectation the update said nothing about fails (`missing_fails`), or is left out.
    """
    outcomes = []
    for expectation in expectations:
        severity = AssetCheckSeverity.ERROR if expectation.action == "fail" else AssetCheckSeverity.WARN
        counts = record.expectations.get(expectation.name)
        metadata: dict[str, Any] = {"action": expectation.action, "condition": expectation.condition,
                                    "update_id": update_id}
        if counts is None:
            if missing_fails:
                metadata["error"] = f"update {update_id} reported no results for expectation '{expectation.name}'"
                outcomes.append({"check_name": expectation.name, "passed": False, "severity": severity,
                                 "metadata": metadata})
            continue
        outcomes.append({"check_name": expectation.name, "passed": counts[1] == 0, "severity": severity,
                         "metadata": {**metadata, "passed_records": counts[0], "failed_records": counts[1]}})
    return outcomes


def link_hint(w: WorkspaceClient, pipeline_id: str) -> str:
    return f"{w.config.host.rstrip('/')}/#joblist/pipelines/{pipeline_id}"
