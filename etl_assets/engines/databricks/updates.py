"""The Databricks engine: one pipeline update per request with `refresh_selection`, followed to
its end through the Pipelines API, each table's result yielded as the event log reports it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import InvalidState, ResourceConflict
from databricks.sdk.service.sql import Disposition, ExecuteStatementRequestOnWaitTimeout, Format, StatementState

from etl_assets.engines.base import ObservedRefresh, Provenance, RefreshRequest, Verdict
from etl_assets.engines.checks import check_query, quality_from_row, quote
from etl_assets.engines.databricks.client import (
    UNREACHABLE,
    api_errors,
    call,
    credential_source,
    redact,
    unreachable_message,
    workspace_client,
)
from etl_assets.engines.databricks.event_log import EventReader
from etl_assets.engines.databricks.lookup import resolve_pipeline_id
from etl_assets.engines.databricks.observer import observe_updates
from etl_assets.engines.databricks.progress import (
    ACTIVE,
    TERMINAL,
    FlowNames,
    TableProgress,
    apply_event,
    completion_events,
    event_log_query,
    event_log_row,
    update_link,
)
from etl_assets.engines.databricks.settings import DatabricksCredentials, DatabricksSettings, DatabricksTraits
from etl_assets.engines.databricks.volumes import VolumeLanding
from etl_assets.engines.events import (
    EngineEvent,
    FlowStatus,
    Log,
    QualityReported,
    RunFinished,
    TableCompleted,
    TableFailed,
    UpdateStarted,
    UpdateStatus,
)
from etl_assets.engines.flows import FlowTracker
from etl_assets.errors import DatabricksApiError, EngineUnavailableError
from etl_assets.project.config import Expectation, ProjectConfig

logger = logging.getLogger(__name__)
T = TypeVar("T")
# Where an update's numbers are documented when its events do not carry them.
NUMBERS_FROM = ("the events API did not report this flow's metrics; Databricks documents row counts and "
                "data quality in the pipeline's event log table (event_log(<pipeline id>)), which the engine reads "
                "on a SQL warehouse: set warehouse_id on the Databricks engine resource")


class DatabricksEngine(DatabricksTraits):
    """Runs updates on a Databricks workspace through the Pipelines API.

    Args:
        credentials: explicit credentials; None fields come from the SDK's default chain.
        settings: polling, waiting and retry bounds.
        client_factory: builds the workspace client (tests pass one bound to a local server).
        sleep: how to wait between polls.
        landing_volume: the volume the landing sensor watches (default: each pipeline's setting).
        warehouse_id: the SQL warehouse that evaluates checks run on their own (no refresh).
    """

    def __init__(self, credentials: DatabricksCredentials | None = None, settings: DatabricksSettings | None = None,
                 client_factory: Callable[[DatabricksSettings, DatabricksCredentials], WorkspaceClient] | None = None,
                 sleep: Callable[[float], None] = time.sleep, landing_volume: str | None = None,
                 warehouse_id: str | None = None):
        self.credentials = credentials or DatabricksCredentials()
        self.warehouse_id = warehouse_id
        self.settings = settings or DatabricksSettings()
        self.client_factory = client_factory or workspace_client
        self.sleep = sleep
        self.landing_volume = landing_volume
        self._client: WorkspaceClient | None = None
        self._landing: VolumeLanding | None = None

    def client(self) -> WorkspaceClient:
        """The workspace client (made once per engine)."""
        if self._client is None:
            self._client = self.client_factory(self.settings, self.credentials)
        return self._client

    def refresh(self, request: RefreshRequest) -> Iterator[EngineEvent]:
        """Start one update refreshing the request's tables and follow it to its end.

        Every text leaving the engine (logs, errors) is cleared of credentials first: a server
        may echo a request's Authorization header into an error message or the event log.
        """
        events = self._refresh(request)
        try:
            for event in events:
                yield _redacted(event, self.client().config, self.credentials)
        finally:
            events.close()

    def _refresh(self, request: RefreshRequest) -> Generator[EngineEvent, None, None]:
        w = self.client()
        pipeline_id = resolve_pipeline_id(w, request.pipeline)
        selected = list(request.tables)
        if request.pipeline.continuous and not request.validate_only:
            yield from self._continuous(w, pipeline_id, request, selected)
            return
        update_id = yield from self._start(w, pipeline_id, request, selected)
        link = update_link(w.config.host, pipeline_id, update_id)
        yield UpdateStarted(request.pipeline.key, update_id, link)
        yield Log(f"pipeline '{request.pipeline.name}': update {update_id} started: {link}")
        progress: dict[str, TableProgress] = {t: TableProgress() for t in selected}
        flows = FlowNames(t.name for t in request.config.tables_of(request.pipeline.key))
        run_errors: list[str] = []
        tracker = FlowTracker(selected, lambda table, reported: self._completion(
            table, progress[table], update_id, pipeline_id, link, request.fully(table)))
        reader = EventReader(w, pipeline_id, update_id)
        finished = False
        settled = False
        state = "UNKNOWN"
        detail = f"update {update_id}"
        known_at = time.monotonic()  # when the update last answered a state the engine knows
        try:
            delay = self.settings.poll_seconds
            while True:
                state = yield from self._reconnecting(w, pipeline_id, update_id, f"reading update {update_id}",
                                                      lambda: self._read_state(w, pipeline_id, update_id))
                if state in TERMINAL or state in ACTIVE:
                    known_at = time.monotonic()
                elif time.monotonic() - known_at >= self.settings.unknown_state_seconds:
                    detail = unknown_end(update_id, state, self.settings.unknown_state_seconds, link)
                    state = "UNKNOWN"
                    finished = True  # what it does is not known: it is left as it is, not stopped
                    break
                events = yield from self._reconnecting(w, pipeline_id, update_id,
                                                       f"reading events of update {update_id}", reader.read_new)
                for event in events:
                    yield from apply_event(event, progress, run_errors, flows)
                for table in selected:
                    record = progress[table]
                    yield from tracker.flow(table, record.status, message="\n".join(record.errors))
                if state in TERMINAL:
                    # Events show up seconds after they happen: a table without its last word
                    # yet gets one more read before the update is taken as ended.
                    if settled or not tracker.unsettled():
                        break
                    settled = True
                self.sleep(delay)
                delay = min(delay * 1.5, self.settings.max_poll_seconds)
            finished = True
        finally:
            if not finished:
                self._stop(w, pipeline_id, update_id)
        if state == UpdateStatus.COMPLETED and self.warehouse_id and not request.validate_only:
            yield from self._numbers_from_event_log(w, pipeline_id, update_id,
                                                    {t: progress[t] for t in selected if t not in tracker.completed},
                                                    flows)
        messages = [m for t in selected if progress[t].status is FlowStatus.FAILED for m in progress[t].errors]
        yield from tracker.finish(UpdateStatus.of(state) or UpdateStatus.UNKNOWN, detail=detail,
                                  error_text="\n".join(dict.fromkeys(messages + run_errors)),
                                  metadata={"update_id": update_id, "update_url": link})

    @staticmethod
    def _completion(table: str, record: TableProgress, update_id: str, pipeline_id: str, link: str,
                    full_refresh: bool) -> Iterator[EngineEvent]:
        rows = f"{record.rows_written} rows written" if record.rows_written is not None else "rows not reported"
        yield Log(f"{table}: COMPLETED, {rows}")
        yield from completion_events(table, record, update_id, pipeline_id, link, full_refresh,
                                     numbers_from=NUMBERS_FROM)

    # -- checks without a refresh --------------------------------------------------------

    def evaluate_checks(self, config: ProjectConfig, table: str,
                        expectations: Sequence[Expectation]) -> QualityReported:
        """The expectations' conditions counted over the published table on the SQL warehouse
        `warehouse_id` (Statement Execution API); no update is started."""
        if not self.warehouse_id:
            raise DatabricksApiError(
                f"checks of '{table}' run on their own evaluate the table on a SQL warehouse, and none is set; "
                "nothing was run. Set warehouse_id on the Databricks engine resource "
                "(ETL_ASSETS_DATABRICKS_WAREHOUSE_ID for the default code location), or materialize the table "
                "to run its checks with the update"
            )
        w = self.client()
        pipeline = config.pipeline_of(table)
        pipeline_id = resolve_pipeline_id(w, pipeline)
        spec = call(w.config, f"reading pipeline '{pipeline.name}'", lambda: w.pipelines.get(pipeline_id)).spec
        catalog = spec.catalog if spec else None
        schema = (spec.schema or spec.target) if spec else None
        name = quote(*[p for p in (catalog, schema) if p], table)
        sql = check_query(name, expectations)
        what = f"evaluating the checks of '{table}' ({name}) on SQL warehouse {self.warehouse_id}"
        statement_id, rows = self._statement(w, sql, what)
        if not rows:
            raise DatabricksApiError(f"{what}: statement {statement_id} returned no row")
        return quality_from_row(table, expectations, rows[0], {
            "table_name": name, "warehouse_id": self.warehouse_id, "statement_id": statement_id,
            "engine": self.name})

    def _statement(self, w: WorkspaceClient, sql: str, what: str) -> tuple[str, list[list[Any]]]:
        """The statement's id and rows, run on the SQL warehouse `warehouse_id` (values as strings)."""
        response = call(w.config, what, lambda: w.statement_execution.execute_statement(
            sql, self.warehouse_id or "", wait_timeout="30s", on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CONTINUE,
            format=Format.JSON_ARRAY, disposition=Disposition.INLINE))
        delay = self.settings.poll_seconds
        while response.status is not None and response.status.state in (StatementState.PENDING, StatementState.RUNNING):
            self.sleep(delay)
            delay = min(delay * 1.5, self.settings.max_poll_seconds)
            statement_id = response.statement_id or ""
            response = call(w.config, what, lambda: w.statement_execution.get_statement(statement_id))
        state = response.status.state if response.status else None
        if state != StatementState.SUCCEEDED:
            error = response.status.error if response.status else None
            detail = error.message if error and error.message else "no error message"
            raise DatabricksApiError(f"{what}: statement {response.statement_id} ended "
                                     f"{state.value if state else 'without a state'}: {detail}")
        return response.statement_id or "", list(response.result.data_array or []) if response.result else []

    def _numbers_from_event_log(self, w: WorkspaceClient, pipeline_id: str, update_id: str,
                                progress: dict[str, TableProgress], flows: FlowNames) -> Iterator[EngineEvent]:
        """Fold the update's `flow_progress` rows of the pipeline's event log table into the
        tables that have no numbers yet (the events API did not carry them)."""
        wanted = {t: record for t, record in progress.items() if record.rows_written is None and not record.expectations}
        if not wanted:
            return
        where = f"event_log('{pipeline_id}')"
        what = f"reading the numbers of update {update_id} from {where} on SQL warehouse {self.warehouse_id}"
        try:
            _, rows = self._statement(w, event_log_query(pipeline_id, update_id), what)
        except DatabricksApiError as exc:
            yield Log(f"{exc}; the numbers stay not reported", "warning")
            return
        for row in rows:
            for record in wanted.values():
                record.read_from = f"{where} on SQL warehouse {self.warehouse_id}"
            apply_event(event_log_row(row), wanted, [], flows)
        yield Log(f"read {len(rows)} flow events of update {update_id} from {where}: numbers of "
                  f"{', '.join(t for t, r in wanted.items() if r.rows_written is not None) or 'no table'}")

    # -- continuous pipelines -----------------------------------------------------------

    def _continuous(self, w: WorkspaceClient, pipeline_id: str, request: RefreshRequest,
                    selected: list[str]) -> Iterator[EngineEvent]:
        """A continuous pipeline already refreshes everything: make sure it runs, then report
        what its current update has refreshed so far. No update per materialization."""
        update_id = self._active_update(w, pipeline_id)
        if update_id is None:
            started = call(w.config, f"starting continuous pipeline '{request.pipeline.name}'",
                           lambda: w.pipelines.start_update(pipeline_id)).update_id
            update_id = _update_id(started, request.pipeline.name)
            yield UpdateStarted(request.pipeline.key, update_id, update_link(w.config.host, pipeline_id, update_id))
            yield Log(f"continuous pipeline '{request.pipeline.name}' was not running: started update "
                      f"{update_id}; its tables are reported as it refreshes them (pipeline observer)")
            yield RunFinished(status=UpdateStatus.COMPLETED, detail=f"update {update_id}", metadata={"continuous": True})
            return
        progress: dict[str, TableProgress] = {t: TableProgress() for t in selected}
        flows = FlowNames(t.name for t in request.config.tables_of(request.pipeline.key))
        for event in EventReader(w, pipeline_id, update_id).read_new():
            apply_event(event, progress, [], flows)
        link = update_link(w.config.host, pipeline_id, update_id)
        # Rows written, not backlog gauges, say a table was refreshed.
        refreshed = [t for t in selected
                     if progress[t].status in (FlowStatus.COMPLETED, FlowStatus.RUNNING, FlowStatus.IDLE)
                     and (progress[t].rows_written or 0) > 0]
        yield Log(f"continuous pipeline '{request.pipeline.name}' is running (update {update_id}); "
                  f"refreshed so far: {', '.join(refreshed) or 'nothing reported yet'}")
        for table in refreshed:
            for completion in completion_events(table, progress[table], update_id, pipeline_id, link, False,
                                                with_quality=False):
                yield _continuous_event(completion)
        yield RunFinished(status=UpdateStatus.COMPLETED, detail=f"update {update_id}", metadata={"continuous": True})

    # -- starting -----------------------------------------------------------------------

    def _start(self, w: WorkspaceClient, pipeline_id: str, request: RefreshRequest,
               selected: list[str]) -> Generator[EngineEvent, None, str]:
        ordered = [t.name for t in request.config.tables_of(request.pipeline.key) if t.name in set(selected)]
        full = [t for t in ordered if request.fully(t)] or None
        partial = [t for t in ordered if not request.fully(t)] or None
        # A table's default flow carries its name (Databricks docs, "Flows": a flow defined with
        # its table is named after it); reset_checkpoint_selection takes flows.
        reset = [t for t in ordered if t in request.reset_checkpoint_tables] or None
        deadline = time.monotonic() + self.settings.wait_active_seconds
        waited = False
        while True:
            active = self._active_update(w, pipeline_id)
            if active is None:
                with api_errors(w.config, f"starting an update of pipeline '{request.pipeline.name}'"):
                    try:
                        started = w.pipelines.start_update(pipeline_id, full_refresh_selection=full,
                                                           refresh_selection=partial, reset_checkpoint_selection=reset,
                                                           validate_only=request.validate_only or None).update_id
                        return _update_id(started, request.pipeline.name)
                    except (ResourceConflict, InvalidState):
                        # Another update began between our look and our start: wait for it too.
                        active = "(started by someone else just now)"
            if time.monotonic() >= deadline:
                raise DatabricksApiError(
                    f"pipeline '{request.pipeline.name}' still has an active update {active} after "
                    f"{self.settings.wait_active_seconds:.0f} s; nothing was started. Stop it in the workspace or "
                    "raise wait_active_seconds on the Databricks engine resource "
                    "(ETL_ASSETS_DATABRICKS_WAIT_ACTIVE_SECONDS for the default code location)."
                )
            if not waited:
                yield Log(f"pipeline '{request.pipeline.name}' has an active update {active}; waiting for it "
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

    @staticmethod
    def _read_state(w: WorkspaceClient, pipeline_id: str, update_id: str) -> str:
        update = w.pipelines.get_update(pipeline_id, update_id).update
        return update.state.value if update and update.state else "UNKNOWN"

    def _reconnecting(self, w: WorkspaceClient, pipeline_id: str, update_id: str, what: str,
                      fn: Callable[[], T]) -> Generator[EngineEvent, None, T]:
        """`fn()`, tried again while the workspace does not answer, for at most `reconnect_seconds`.

        The SDK retries an unanswered request itself for `retry_timeout_seconds`, then raises
        TimeoutError (or a connection error): the update may well be running on, so keep
        following it; past the bound, say which host and which credentials, and where to look.
        """
        deadline = time.monotonic() + self.settings.reconnect_seconds
        while True:
            try:
                with api_errors(w.config, what, unreachable=False):
                    return fn()
            except UNREACHABLE as exc:
                if time.monotonic() >= deadline:
                    raise DatabricksApiError(
                        f"{unreachable_message(w.config, what, exc)}; gave up after reconnect_seconds="
                        f"{self.settings.reconnect_seconds:g} s. The update may still be running: "
                        f"{update_link(w.config.host, pipeline_id, update_id)}. Check the network, or raise "
                        "reconnect_seconds on the Databricks engine resource "
                        "(ETL_ASSETS_DATABRICKS_RECONNECT_SECONDS for the default code location)."
                    ) from None
                yield Log(f"no answer from {w.config.host} while {what} ({type(exc).__name__}); retrying for at "
                          f"most {self.settings.reconnect_seconds:g} s in all", "warning")
                self.sleep(self.settings.poll_seconds)

    def _stop(self, w: WorkspaceClient, pipeline_id: str, update_id: str) -> None:
        """The run ended before the update: stop the update we started, if it still runs.

        `stop` cancels whatever update is active on the pipeline, so it is called only when the
        pipeline's active update is ours.
        """
        try:
            active = self._active_update(w, pipeline_id)
            if active == update_id:
                w.pipelines.stop(pipeline_id)
                logger.warning("stopped update %s of pipeline %s", update_id, pipeline_id)
            elif active is None:
                logger.info("update %s of pipeline %s had already ended; nothing to stop", update_id, pipeline_id)
            else:
                logger.warning("did not stop pipeline %s: its active update %s is not ours (ours is %s); "
                               "stop it in the workspace if it should not run", pipeline_id, active, update_id)
        except Exception as exc:  # noqa: BLE001 - the run is ending anyway; say what could not be done
            logger.error("could not stop update %s of pipeline %s (Databricks at %s, credentials: %s): %s",
                         update_id, pipeline_id, w.config.host, credential_source(w.config), exc)

    # -- landing and observation ----------------------------------------------------------

    def landing_listing(self, config: ProjectConfig, source_path: str, pipeline_key: str) -> tuple[str, dict[str, int]]:
        """Data files under the source's folder of the landing volume the pipeline reads."""
        if self._landing is None:
            self._landing = VolumeLanding(self.client(), config, self.landing_volume)
        return self._landing.listing(source_path, pipeline_key)

    def local_landing(self, config: ProjectConfig) -> Path:
        """None on this machine: landing files are in the workspace volume."""
        raise EngineUnavailableError(
            "on the databricks engine the landing data lives in the workspace volume, not on this machine: run "
            "the bundle's data generation and exploration tasks there")

    def observe(self, config: ProjectConfig, cursor: dict[str, Any],
                judge: Callable[[Provenance], Verdict]) -> tuple[list[ObservedRefresh], dict[str, Any]]:
        """Updates no run of ours started (the bundle's job, the workspace UI, continuous pipelines)."""
        return observe_updates(self.client(), config, cursor, judge)


def _continuous_event(event: EngineEvent) -> EngineEvent:
    if isinstance(event, TableCompleted):
        return replace(event, metadata={**event.metadata, "continuous": True})
    return event


def unknown_end(update_id: str, state: str, seconds: float, link: str) -> str:
    """The failure's detail for an update that answered no state the engine knows for `seconds`."""
    said = "no state" if state == "UNKNOWN" else f"only the state {state!r}, which the engine does not know"
    return (f"update {update_id} answered {said} for {seconds:g} s (unknown_state_seconds on the Databricks engine "
            f"resource, ETL_ASSETS_DATABRICKS_UNKNOWN_STATE_SECONDS); it was not stopped and may still be running: "
            f"{link}; the end of update {update_id} is")


def _update_id(update_id: str | None, pipeline: str) -> str:
    if not update_id:
        raise DatabricksApiError(f"the workspace started an update of pipeline '{pipeline}' but returned no update id; "
                                 "look at the pipeline's updates in the workspace")
    return update_id


def _redacted(event: EngineEvent, *holders: object) -> EngineEvent:
    if isinstance(event, Log):
        return replace(event, message=redact(event.message, *holders))
    if isinstance(event, TableFailed):
        return replace(event, message=redact(event.message, *holders))
    if isinstance(event, RunFinished):
        return replace(event, error_text=redact(event.error_text, *holders))
    return event
