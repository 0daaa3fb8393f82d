"""A local HTTP server on 127.0.0.1 that answers the Pipelines API as documented.

Just enough of the workspace for the real databricks-sdk: pipelines list and get, updates list,
start and get, events with paging and filters, stop, volume directory listings (Files API), and
SQL statements on a warehouse (Statement Execution API: `POST /api/2.0/sql/statements`, `GET
/api/2.0/sql/statements/<id>`, JSON_ARRAY results inline with values as strings), run by sqlite
over the rows a test put in `tables`.
Each `GET .../updates/<id>` is one tick of fake time and moves the update one step along its
script. Every request is recorded; faults (an HTTP status, a dropped connection) can be queued
for paths.

Event payloads follow the documented event-log format (Databricks docs, "Pipeline event log
schema", docs.databricks.com/aws/en/ldp/monitor-event-log-schema: `origin.dataset_name` /
`flow_name`, `level` INFO|WARN|ERROR|METRICS, `details.flow_progress.status` and `metrics`,
`details.flow_definition.output_dataset`), with the shapes seen in public samples: Unity Catalog
names (`main.sales.customers`), back-quoted names, `null` metrics and METRICS-level events
(Databricks docs, "Monitor ingestion gateway progress with event logs",
docs.databricks.com/aws/en/ingestion/lakeflow-connect/gateway-event-logs), AUTO CDC flows that
report `num_upserted_rows` / `num_deleted_rows` and no `num_output_rows` (Databricks docs, "AUTO
CDC": "Get data about records processed by a CDC query"), and the message wording `Flow '<name>'
is RUNNING.` (`databricks pipelines list-pipeline-events` output).
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from etl_assets.engines.databricks.event_log import OVERLAP_SECONDS

ACTIVE = {"QUEUED", "CREATED", "WAITING_FOR_RESOURCES", "INITIALIZING", "RESETTING", "SETTING_UP_TABLES",
          "RUNNING", "STOPPING"}
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
LANDING_VOLUME = "/Volumes/main/etl_assets/landing"
# Engine timings that suit the fake workspace (for DatabricksPipelinesResource or DatabricksSettings).
FAST = {"poll_seconds": 0.01, "max_poll_seconds": 0.02, "retry_timeout_seconds": 5, "wait_active_seconds": 5}


@dataclass
class Step:
    """One step of an update: its state then, and the events it emits.

    Without a clock each poll of the update is one step; with a clock a step is reached
    `at` seconds of fake time after the update started.
    """

    state: str | None
    events: list[dict] = field(default_factory=list)
    at: float = 0.0


Script = Callable[["FakeUpdate"], list[Step]]


@dataclass
class FakeUpdate:
    pipeline_id: str
    update_id: str
    refresh_selection: list[str]
    full_refresh_selection: list[str]
    steps: list[Step] = field(default_factory=list)
    position: int = 0
    ours: bool = True
    started: float = 0.0
    validate_only: bool = False
    reset_checkpoint_selection: list[str] = field(default_factory=list)

    @property
    def tables(self) -> list[str]:
        return self.full_refresh_selection + [t for t in self.refresh_selection if t not in self.full_refresh_selection]

    @property
    def state(self) -> str | None:
        return self.steps[min(self.position, len(self.steps) - 1)].state


def flow_event(table: str, status: str, *, rows: int = 0, upserted: int = 0, deleted: int = 0,
               dropped: int = 0, expectations: list[dict] | None = None, naming: str = "bare",
               flow: str | None = None, metrics: dict[str, Any] | None = None, level: str = "INFO") -> dict:
    """A `flow_progress` event of `table`'s flow.

    `naming` says how `origin` names the table: "bare" (`dataset_name` is the table), "uc"
    (`main.etl.<table>`), "quoted" (`` `main`.`etl`.`<table>` ``) or "flow_only" (no
    `dataset_name`, only `flow_name`, as some FAILED flow events carry). `metrics`, when given,
    is the whole `metrics` object (values may be null; gauges such as `backlog_bytes` allowed).
    """
    details: dict[str, Any] = {"flow_progress": {"status": status}}
    if metrics is not None:
        details["flow_progress"]["metrics"] = metrics
    elif status == "COMPLETED" or rows or upserted or deleted:  # a running streaming flow reports each batch
        details["flow_progress"]["metrics"] = {"num_output_rows": rows, "num_upserted_rows": upserted,
                                               "num_deleted_rows": deleted}
        details["flow_progress"]["data_quality"] = {"dropped_records": dropped, "expectations": expectations or []}
    # Flow names may be qualified and quoted; the dataset name is the table.
    flow = flow or f"`main`.`etl`.`{table}`"
    origin: dict[str, Any] = {"flow_name": flow}
    if naming == "bare":
        origin["dataset_name"] = table
    elif naming == "uc":
        origin.update(dataset_name=f"main.etl.{table}", catalog_name="main", schema_name="etl")
    elif naming == "quoted":
        origin["dataset_name"] = f"`main`.`etl`.`{table}`"
    elif naming != "flow_only":
        raise ValueError(f"unknown naming {naming!r}")
    return {"event_type": "flow_progress", "level": level, "message": f"Flow '{flow}' is {status}.",
            "origin": origin, "details": details}


def flow_definition(flow: str, output_dataset: str, flow_type: str = "APPEND",
                    schema: list[dict] | None = None) -> dict:
    """A `flow_definition` event: the flow named `flow` writes `output_dataset` (a UC name), with
    the output `schema` when given (fields with `name`, `data_type`, maybe `comment`, as the
    event log schema documents `details.flow_definition.schema`)."""
    definition: dict[str, Any] = {"output_dataset": output_dataset, "input_datasets": [], "flow_type": flow_type,
                                  "explain_text": ""}
    if schema is not None:
        definition["schema"] = schema
    return {"event_type": "flow_definition", "level": "INFO", "message": f"Flow '{flow}' is defined as {flow_type}.",
            "origin": {"flow_name": flow}, "details": {"flow_definition": definition}}


def cdc_flow(table: str) -> str:
    """The name of the AUTO CDC flow writing `table` in the Unity Catalog scripts (not the table's)."""
    return f"main.etl.{table}_auto_cdc"


def unity_catalog(cdc: tuple[str, ...] = (), upserted: int = 6, deleted: int = 2, rows: int = 10) -> Script:
    """A successful update as a Unity Catalog pipeline reports it: flow definitions map flows to
    qualified tables; tables in `cdc` are written by an AUTO CDC flow named differently whose
    progress events carry only `flow_name` and upsert/delete counts (no `num_output_rows`);
    the others alternate UC and back-quoted `dataset_name`s; METRICS-level events carry backlog
    gauges with null row counts; the update passes through every documented start-up state."""

    def script(update: FakeUpdate) -> list[Step]:
        def flow_of(table: str) -> str:
            return cdc_flow(table) if table in cdc else f"main.etl.{table}"

        def progress(table: str, status: str, index: int) -> dict:
            if table in cdc:
                metrics = {"num_upserted_rows": upserted, "num_deleted_rows": deleted} if status == "COMPLETED" else None
                return flow_event(table, status, naming="flow_only", flow=flow_of(table), metrics=metrics)
            metrics = {"num_output_rows": rows} if status == "COMPLETED" else None
            return flow_event(table, status, naming="uc" if index % 2 == 0 else "quoted", flow=flow_of(table),
                              metrics=metrics)

        tables = update.tables
        return [
            Step("CREATED"),
            Step("WAITING_FOR_RESOURCES"),
            Step("INITIALIZING", [flow_definition(flow_of(t), f"`main`.`etl`.`{t}`",
                                                  "AUTO_CDC" if t in cdc else "APPEND") for t in tables]),
            Step("SETTING_UP_TABLES"),
            Step("RUNNING", [progress(t, "RUNNING", i) for i, t in enumerate(tables)] + [
                flow_event(t, "RUNNING", naming="uc", flow=flow_of(t), level="METRICS",
                           metrics={"num_output_rows": None, "backlog_bytes": 2048, "backlog_files": 3})
                for t in tables]),
            Step("RUNNING", [progress(t, "COMPLETED", i) for i, t in enumerate(tables)]),
            Step("COMPLETED"),
        ]

    return script


def failing_flow(table: str, message: str) -> Script:
    """`table` is written by a flow named differently; its FAILED event names only the flow (a
    `flow_definition` event said which table it writes). The update fails."""

    def script(update: FakeUpdate) -> list[Step]:
        flow = f"`main`.`etl`.`{table}_flow`"
        failed = {**flow_event(table, "FAILED", naming="flow_only", flow=flow), "level": "ERROR",
                  "error": {"fatal": True, "exceptions": [{"class_name": "AnalysisException", "message": message}]}}
        others = [t for t in update.tables if t != table]
        return [
            Step("INITIALIZING", [flow_definition(flow, f"main.etl.{table}")]),
            Step("RUNNING", [flow_event(t, "COMPLETED", rows=3, naming="uc") for t in others[:1]]),
            Step("FAILED", [failed] + [flow_event(t, "SKIPPED", naming="uc") for t in others[1:]]),
        ]

    return script


def stopped(done: str, stopped_table: str, excluded: str) -> Script:
    """An update canceled by a user: every documented state on the way (RESETTING for a full
    refresh, STOPPING at the end); `done` completed, `stopped_table`'s flow STOPPED, `excluded`'s
    flow EXCLUDED, and a flow reporting IDLE in between."""

    def script(update: FakeUpdate) -> list[Step]:
        return [
            Step("QUEUED"), Step("CREATED"), Step("WAITING_FOR_RESOURCES"), Step("INITIALIZING"),
            Step("RESETTING"), Step("SETTING_UP_TABLES"),
            Step("RUNNING", [flow_event(done, "RUNNING", naming="uc"), flow_event(stopped_table, "IDLE", naming="uc"),
                             flow_event(excluded, "EXCLUDED", naming="uc")]),
            Step("RUNNING", [flow_event(done, "COMPLETED", naming="uc", metrics={"num_output_rows": 4})]),
            Step("STOPPING", [flow_event(stopped_table, "STOPPED", naming="uc")]),
            Step("CANCELED"),
        ]

    return script


def late_completion(table: str, rows: int = 10) -> Script:
    """`table`'s COMPLETED event is stamped before its neighbours' but becomes visible only one
    poll later (the event log shows events up to seconds after their timestamp)."""

    def script(update: FakeUpdate) -> list[Step]:
        others = [t for t in update.tables if t != table]
        return [
            Step("RUNNING", [flow_event(t, "RUNNING") for t in update.tables]),
            Step("RUNNING", [{**flow_event(table, "COMPLETED", rows=rows), "late_ticks": 1}]
                 + [flow_event(t, "COMPLETED", rows=rows) for t in others]),
            Step("RUNNING"),
            Step("COMPLETED"),
        ]

    return script


def continuous_with_backlog(tables: list[str], batches: list[int], backlog: list[int]) -> Script:
    """A continuous update whose flows also report METRICS-level backlog gauges: each step a
    batch of rows (when non-zero) and a gauge reading; a batch of 0 is an idle step where the
    flows report IDLE with gauges only. Stopped (CANCELED) after the last step."""

    def script(update: FakeUpdate) -> list[Step]:
        steps = [Step("INITIALIZING")]
        for rows, gauge in zip(batches, backlog, strict=True):
            events = []
            for t in tables:
                if rows:
                    events.append(flow_event(t, "RUNNING", rows=rows))
                else:
                    events.append(flow_event(t, "IDLE", metrics={"num_output_rows": None}))
                events.append(flow_event(t, "RUNNING", level="METRICS", metrics={
                    "backlog_bytes": gauge, "backlog_files": gauge // 1000, "executor_count": 2,
                    "num_output_rows": None}))
            steps.append(Step("RUNNING", events))
        return steps + [Step("CANCELED")]

    return script


def long_running(steps: int) -> Script:
    """An update that runs for `steps` ticks and then completes, with no table events."""
    return lambda update: [Step("RUNNING")] * steps + [Step("COMPLETED")]


def failing(table: str, message: str) -> Script:
    """Every table runs; `table` fails with `message`, its downstream is skipped, the update fails."""

    def script(update: FakeUpdate) -> list[Step]:
        ok = [t for t in update.tables if t != table]
        error = {**flow_event(table, "FAILED"), "level": "ERROR",
                 "error": {"fatal": True, "exceptions": [{"class_name": "AnalysisException", "message": message}]}}
        return [
            Step("RUNNING", [flow_event(t, "RUNNING") for t in update.tables]),
            Step("RUNNING", [flow_event(t, "COMPLETED", rows=3) for t in ok[:1]] + [error]),
            Step("FAILED", [flow_event(t, "SKIPPED") for t in ok[1:]]),
        ]

    return script


def continuous(tables: list[str], batches: list[int]) -> Script:
    """A continuous update: each step, every table's flow writes a batch of rows while RUNNING,
    and expectations are counted per batch; after the last, the update is stopped (CANCELED)."""

    def script(update: FakeUpdate) -> list[Step]:
        return [Step("INITIALIZING")] + [
            Step("RUNNING", [flow_event(t, "RUNNING", rows=n, upserted=n, expectations=[
                {"name": "valid_order_id", "dataset": t, "passed_records": n, "failed_records": 0}]) for t in tables])
            for n in batches
        ] + [Step("CANCELED")]

    return script


def analysis(errors: dict[str, str]) -> Script:
    """A `validate_only` update: the selected tables are analyzed, nothing runs; a table in
    `errors` fails its analysis with that message (its flow FAILED at level ERROR) and the update
    fails, the others are COMPLETED as a validation reports them."""

    def script(update: FakeUpdate) -> list[Step]:
        events = []
        for t in update.tables:
            if t in errors:
                events.append({**flow_event(t, "FAILED"), "level": "ERROR", "error": {"fatal": True, "exceptions": [
                    {"class_name": "AnalysisException", "message": errors[t]}]}})
            else:
                events.append(flow_event(t, "COMPLETED", metrics={}))
        return [Step("INITIALIZING"), Step("SETTING_UP_TABLES", events), Step("FAILED" if errors else "COMPLETED")]

    return script


def stateless(tables_running: bool = True) -> Script:
    """An update the workspace answers without a `state`, for ever. `UpdateInfo.state` is
    optional in the Pipelines API (Databricks REST reference, "Get a pipeline update": no field of
    `update` is marked required; databricks-sdk `UpdateInfo.state: Optional[UpdateInfoState]`),
    and the SDK reads a state it has no enum member for as none. Its flows report RUNNING first."""

    def script(update: FakeUpdate) -> list[Step]:
        return [Step("RUNNING", [flow_event(t, "RUNNING") for t in update.tables] if tables_running else []),
                Step(None)]

    return script


def canceled() -> Script:
    return lambda update: [Step("RUNNING"), Step("CANCELED")]


def successful(rows: int = 10, expectation: str = "valid_id") -> Script:
    """Queued, initializing, each table running then completed, update completed."""

    def script(update: FakeUpdate) -> list[Step]:
        return [
            Step("QUEUED"),
            Step("INITIALIZING"),
            Step("RUNNING", [flow_event(t, "RUNNING") for t in update.tables]),
            Step("RUNNING", [flow_event(t, "COMPLETED", rows=rows, upserted=rows, dropped=1,
                                        expectations=[{"name": expectation, "dataset": t, "passed_records": rows,
                                                       "failed_records": 1}]) for t in update.tables]),
            Step("COMPLETED", [{"event_type": "update_progress", "level": "INFO", "message": "Update is COMPLETED.",
                                "origin": {}, "details": {"update_progress": {"state": "COMPLETED"}}}]),
        ]

    return script


# The events API's filter (Databricks REST API reference, "List pipeline events", `filter`):
# "level='INFO' (or WARN or ERROR)", "level in ('INFO', 'WARN')", "id='[event-id]'",
# "timestamp > 'TIMESTAMP' (or >=,<,<=,=)", joined by AND; and `update_id = '<id>'`, which the
# Databricks CLI's maintainers verified on a live workspace, where any other column answers 400
# `Operation '=' not allowed on 'event_type'` (databricks/cli pull request 6473).
FILTER_COLUMNS = {"timestamp", "id", "update_id", "level"}
_CLAUSE = re.compile(r"^\s*(\w+(?:\.\w+)*)\s*(>=|<=|!=|=|>|<|\bin\b)\s*(.+?)\s*$", re.IGNORECASE)


def _filter_clauses(text: str) -> list[tuple[str, str, Any]] | str:
    """The clauses of a filter, or the 400 message a workspace answers for it."""
    clauses: list[tuple[str, str, Any]] = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE) if text.strip() else []:
        match = _CLAUSE.match(part)
        if not match:
            return f"Invalid filter expression: {part}"
        column, op, raw = match.group(1), match.group(2).lower(), match.group(3)
        if column not in FILTER_COLUMNS:
            return f"Operation '{op}' not allowed on '{column}'"
        if op == "in":
            values = re.findall(r"'([^']*)'", raw)
            if not raw.startswith("(") or not values:
                return f"Invalid filter expression: {part}"
            clauses.append((column, op, values))
        elif raw.startswith("'") and raw.endswith("'"):
            clauses.append((column, op, raw[1:-1]))
        else:
            return f"Invalid filter expression: {part}"
    return clauses


def _holds(event: dict, clause: tuple[str, str, Any]) -> bool:
    column, op, value = clause
    have = event["origin"].get("update_id") if column == "update_id" else event.get(column)
    if have is None:
        return False
    if op == "in":
        return have in value
    return {"=": have == value, "!=": have != value, ">": have > value, ">=": have >= value,
            "<": have < value, "<=": have <= value}[op]


def _without_none(answer: dict) -> dict:
    # A field the workspace does not know is absent from its answer, not null.
    return {k: v for k, v in answer.items() if v is not None}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _shifted(stamp: str, seconds: float) -> str:
    return _stamp(datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(seconds=seconds))


class FakeDatabricks:
    """The fake workspace; `url` for `Config(host=...)`, `requests` for assertions."""

    def __init__(self, token: str = "test-token", clock: Callable[[], float] | None = None):
        self.token = token
        self.fake_time = clock
        self.pipelines: dict[str, dict] = {}
        self.updates: dict[str, FakeUpdate] = {}
        self.events: dict[str, list[dict]] = {}  # pipeline id -> events in time order
        self.requests: list[tuple[str, str, dict, Any]] = []
        self.faults: list[tuple[str, Any]] = []  # (path substring, status code or "drop")
        self.scripts: dict[str, Script] = {}
        self.served: Counter = Counter()  # event id -> times returned by the events endpoint
        # event id -> times returned past the overlap window a reader re-reads on purpose
        self.served_fresh: Counter = Counter()
        self.ticks = 0  # polls of any update so far (late events become visible by ticks)
        self._visible_from: dict[str, int] = {}  # event id -> tick from which the events endpoint shows it
        self.clock = START
        self.files: dict[str, int] = {}  # volume file path -> last modified (ms since the epoch)
        self.directories: set[str] = set()  # directories that exist even when empty
        self.directory_page_size = 1000
        self.tables: dict[str, list[dict]] = {}  # "catalog.schema.table" -> rows, for SQL statements
        self.warehouses: set[str] = {"wh-1"}
        self.statements: dict[str, dict] = {}
        self.statement_pending_polls = 0  # polls a new statement answers PENDING before its result
        # The events API as its reference documents it: no `details` in an event (Databricks REST
        # reference, "List pipeline events": PipelineEvent has no such field); the event log
        # table (`event_log('<pipeline id>')`) keeps them.
        self.events_without_details = False
        self._counter = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- set-up -------------------------------------------------------------------------

    def __enter__(self) -> FakeDatabricks:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_pipeline(self, name: str, pipeline_id: str | None = None, script: Script | None = None,
                     configuration: dict[str, str] | None = None) -> str:
        """A deployed pipeline; its configuration by default is what resources/pipelines.yml sets."""
        pipeline_id = pipeline_id or f"{len(self.pipelines) + 1:04d}-pipeline-{name}"
        if configuration is None:
            configuration = {"etl_assets.engine": "databricks", "etl_assets.landing_path": LANDING_VOLUME}
        self.pipelines[pipeline_id] = {"pipeline_id": pipeline_id, "name": name, "state": "IDLE",
                                       "spec": {"id": pipeline_id, "name": name, "configuration": configuration,
                                                "catalog": "main", "schema": "etl"}}
        self.events[pipeline_id] = []
        self.scripts[pipeline_id] = script or successful()
        return pipeline_id

    def start_outside_update(self, pipeline_id: str, tables: list[str], script: Script | None = None) -> FakeUpdate:
        """An update Dagster did not start (a manual refresh in the workspace UI)."""
        update = self._new_update(pipeline_id, tables, [], script)
        update.ours = False
        return update

    def advance(self, update: FakeUpdate) -> None:
        """Move an update one step along its script now, emitting that step's events."""
        if update.position + 1 < len(update.steps):
            update.position += 1
            self._emit(update, update.steps[update.position].events)

    def finish(self, update: FakeUpdate) -> None:
        """Run an update to the end of its script now, emitting all its events."""
        while update.position + 1 < len(update.steps):
            update.position += 1
            self._emit(update, update.steps[update.position].events)

    def pass_time(self, polls: int = 1) -> None:
        """Time passes as if `polls` polls happened: events held back that long become visible."""
        self.ticks += polls

    def put_file(self, path: str, last_modified: int | None = None) -> None:
        """A file lands in a volume; it arrives one second after the previous one unless told."""
        if last_modified is None:
            self.clock += timedelta(seconds=1)
            last_modified = int(self.clock.timestamp() * 1000)
        self.files[path] = last_modified

    def fail(self, path_part: str, status: int | str, times: int = 1) -> None:
        """The next `times` requests whose path contains `path_part` get `status` ("drop": no answer)."""
        self.faults.extend([(path_part, status)] * times)

    def events_served_twice(self) -> int:
        """Events returned more than once, not counting re-reads inside the overlap window (an
        event re-read because its timestamp is within `OVERLAP_SECONDS` of where the reader's
        filter starts was asked for on purpose, to catch events that become visible late)."""
        return sum(1 for count in self.served_fresh.values() if count > 1)

    def calls(self, method: str | None = None, path_part: str = "") -> list[tuple[str, str, dict, Any]]:
        return [r for r in self.requests if (method is None or r[0] == method) and path_part in r[1]]

    # -- behaviour ----------------------------------------------------------------------

    def _new_update(self, pipeline_id: str, refresh: list[str], full: list[str], script: Script | None,
                    validate_only: bool = False) -> FakeUpdate:
        self._counter += 1
        update = FakeUpdate(pipeline_id, f"update-{self._counter:03d}", refresh, full, validate_only=validate_only)
        update.started = self.fake_time() if self.fake_time else 0.0
        update.steps = (script or self.scripts[pipeline_id])(update)
        self.updates[update.update_id] = update
        self._emit(update, update.steps[0].events)
        return update

    def _emit(self, update: FakeUpdate, events: list[dict]) -> None:
        for event in events:
            self.clock += timedelta(milliseconds=500)
            self._counter += 1
            stamped = json.loads(json.dumps(event))
            late = stamped.pop("late_ticks", 0)
            stamped["id"] = f"event-{self._counter:05d}"
            if late:
                self._visible_from[stamped["id"]] = self.ticks + late
            stamped["timestamp"] = _stamp(self.clock)
            stamped.setdefault("origin", {}).update({"pipeline_id": update.pipeline_id, "update_id": update.update_id})
            self.events[update.pipeline_id].append(stamped)

    def _tick(self, update: FakeUpdate) -> None:
        self.ticks += 1
        if update.state not in ACTIVE:
            return
        if self.fake_time is None:
            update.position += 1
            if update.position < len(update.steps):
                self._emit(update, update.steps[update.position].events)
            return
        elapsed = self.fake_time() - update.started
        while update.position + 1 < len(update.steps) and update.steps[update.position + 1].at <= elapsed:
            update.position += 1
            self._emit(update, update.steps[update.position].events)

    def active_update(self, pipeline_id: str) -> FakeUpdate | None:
        return next((u for u in self.updates.values() if u.pipeline_id == pipeline_id and u.state in ACTIVE), None)

    def _pipeline_json(self, pipeline_id: str) -> dict:
        active = self.active_update(pipeline_id)
        latest = [
            _without_none({"update_id": u.update_id, "state": u.state})
            for u in reversed(list(self.updates.values())) if u.pipeline_id == pipeline_id
        ][:5]
        return {**self.pipelines[pipeline_id], "state": "RUNNING" if active else "IDLE", "latest_updates": latest}

    def answer(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        if path == "/.well-known/databricks-config":
            return 404, {"error_code": "NOT_FOUND", "message": "not here"}
        if path.startswith("/api/2.0/fs/directories/") and method == "GET":
            return self._directory(unquote(path[len("/api/2.0/fs/directories"):]).rstrip("/"), query)
        if path == "/api/2.0/pipelines" and method == "GET":
            return 200, self._list(query)
        if path.rstrip("/") == "/api/2.0/sql/statements" and method == "POST":
            return self._execute(body)
        statement = re.fullmatch(r"/api/2\.0/sql/statements/([^/]+)", path)
        if statement and method == "GET":
            return self._statement(statement.group(1))
        match = re.fullmatch(r"/api/2\.0/pipelines/([^/]+)(/.*)?", path)
        if not match or match.group(1) not in self.pipelines:
            missing = match.group(1) if match else path
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Pipeline {missing} does not exist."}
        pipeline_id, rest = match.group(1), match.group(2) or ""
        if rest == "" and method == "GET":
            # Updates nobody polls (started outside Dagster) move on as the pipeline is looked at.
            for update in list(self.updates.values()):
                if update.pipeline_id == pipeline_id and not update.ours:
                    self._tick(update)
            return 200, self._pipeline_json(pipeline_id)
        if rest == "/updates" and method == "GET":
            mine = [u for u in reversed(list(self.updates.values())) if u.pipeline_id == pipeline_id]
            return 200, {"updates": [_without_none({"pipeline_id": pipeline_id, "update_id": u.update_id,
                                                    "state": u.state, "cause": "API_CALL" if u.ours else "USER_ACTION"})
                                     for u in mine[:25]]}
        if rest == "/updates" and method == "POST":
            if self.active_update(pipeline_id):
                return 409, {"error_code": "RESOURCE_CONFLICT", "message": "An active update already exists."}
            # The documented request (Databricks REST reference, "Start a pipeline update"; databricks-sdk
            # 0.162+ `start_update`): refresh_selection and full_refresh_selection are lists of tables,
            # reset_checkpoint_selection a list of flows whose streaming checkpoints are reset (their
            # tables' data kept), which "may also appear in refresh_selection and full_refresh_selection".
            for name in ("refresh_selection", "full_refresh_selection", "reset_checkpoint_selection"):
                value = body.get(name)
                if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
                    return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": f"{name} must be a list of strings"}
            update = self._new_update(pipeline_id, body.get("refresh_selection") or [],
                                      body.get("full_refresh_selection") or [], None,
                                      validate_only=bool(body.get("validate_only")))
            update.reset_checkpoint_selection = list(body.get("reset_checkpoint_selection") or [])
            return 200, {"update_id": update.update_id}
        update_match = re.fullmatch(r"/updates/([^/]+)", rest)
        if update_match and method == "GET":
            update = self.updates.get(update_match.group(1))
            if update is None:
                return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such update"}
            self._tick(update)
            return 200, {"update": _without_none({
                "pipeline_id": pipeline_id, "update_id": update.update_id, "state": update.state,
                "refresh_selection": update.refresh_selection, "full_refresh_selection": update.full_refresh_selection,
                "reset_checkpoint_selection": update.reset_checkpoint_selection or None})}
        if rest == "/events" and method == "GET":
            answer = self._events(pipeline_id, query)
            return answer.pop("__status", 200), answer
        if rest == "/stop" and method == "POST":
            # The pipeline's current update is the newest active one: that is what stop cancels.
            active = next((u for u in reversed(list(self.updates.values()))
                           if u.pipeline_id == pipeline_id and u.state in ACTIVE), None)
            if active:
                active.steps = active.steps[: active.position + 1] + [Step("CANCELED")]
                active.position += 1
            return 200, {}
        return 404, {"error_code": "NOT_FOUND", "message": f"{method} {path}"}

    def _execute(self, body: dict) -> tuple[int, dict]:
        """Statement Execution API: run the statement (sqlite over `tables`) and answer its state."""
        if body.get("warehouse_id") not in self.warehouses:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST",
                         "message": f"SQL warehouse {body.get('warehouse_id')} does not exist."}
        self._counter += 1
        statement_id = f"01f0-statement-{self._counter:04d}"
        self.statements[statement_id] = {"answer": self._run_sql(statement_id, body.get("statement", "")),
                                         "pending": self.statement_pending_polls}
        return self._statement(statement_id)

    def _statement(self, statement_id: str) -> tuple[int, dict]:
        record = self.statements.get(statement_id)
        if record is None:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"statement {statement_id} not found"}
        if record["pending"] > 0:
            record["pending"] -= 1
            return 200, {"statement_id": statement_id, "status": {"state": "PENDING"}}
        return 200, record["answer"]

    def _run_sql(self, statement_id: str, statement: str) -> dict:
        import sqlite3

        log = re.search(r"\bFROM\s+event_log\('([^']*)'\)\s+WHERE\s+origin\.update_id\s*=\s*'([^']*)'", statement)
        if log:
            return self._event_log_rows(statement_id, log.group(1), log.group(2))
        found = re.search(r"\bFROM\s+((?:`(?:[^`]|``)*`|\w+)(?:\.(?:`(?:[^`]|``)*`|\w+))*)\s*$", statement)
        name = ".".join(p.strip("`") for p in re.findall(r"`(?:[^`]|``)*`|\w+", found.group(1))) if found else ""
        if name not in self.tables:
            return {"statement_id": statement_id, "status": {"state": "FAILED", "error": {
                "error_code": "BAD_REQUEST",
                "message": f"[TABLE_OR_VIEW_NOT_FOUND] The table or view `{name}` cannot be found."}}}
        rows = self.tables[name]
        columns = sorted({c for r in rows for c in r})
        db = sqlite3.connect(":memory:")
        db.execute(f"CREATE TABLE t ({', '.join(columns) or 'none'})")
        db.executemany(f"INSERT INTO t VALUES ({', '.join('?' for _ in columns)})",
                       [[r.get(c) for c in columns] for r in rows])
        result = db.execute(statement[:found.start(1)] + "t").fetchall() if found else []
        data = [[None if v is None else str(v) for v in row] for row in result]
        width = len(data[0]) if data else 0
        return {"statement_id": statement_id, "status": {"state": "SUCCEEDED"},
                "manifest": {"format": "JSON_ARRAY", "total_row_count": len(data), "total_chunk_count": 1,
                             "truncated": False,
                             "schema": {"column_count": width, "columns": [
                                 {"name": f"c{i}", "position": i, "type_name": "LONG", "type_text": "BIGINT"}
                                 for i in range(width)]}},
                "result": {"chunk_index": 0, "row_offset": 0, "row_count": len(data), "data_array": data}}

    def _event_log_rows(self, statement_id: str, pipeline_id: str, update_id: str) -> dict:
        """The update's flow events as the event log table holds them: `details` a JSON string,
        `origin` given as JSON (`to_json(origin)`), every value a string (JSON_ARRAY)."""
        if pipeline_id not in self.pipelines:
            return {"statement_id": statement_id, "status": {"state": "FAILED", "error": {
                "error_code": "BAD_REQUEST", "message": f"Pipeline {pipeline_id} does not exist."}}}
        rows = [[e["id"], e["timestamp"], e["level"], e["event_type"], json.dumps(e["origin"]),
                 json.dumps(e.get("details") or {})]
                for e in self.events[pipeline_id]
                if e["origin"].get("update_id") == update_id and e["event_type"] in ("flow_definition", "flow_progress")]
        return {"statement_id": statement_id, "status": {"state": "SUCCEEDED"},
                "manifest": {"format": "JSON_ARRAY", "total_row_count": len(rows), "total_chunk_count": 1,
                             "truncated": False, "schema": {"column_count": 6, "columns": [
                                 {"name": n, "position": i, "type_name": "STRING", "type_text": "STRING"}
                                 for i, n in enumerate(["id", "timestamp", "level", "event_type", "origin",
                                                        "details"])]}},
                "result": {"chunk_index": 0, "row_offset": 0, "row_count": len(rows), "data_array": rows}}

    def _directory(self, directory: str, query: dict) -> tuple[int, dict]:
        """Files API: a directory's direct children, files and folders, in pages."""
        prefix = directory + "/"
        children: dict[str, dict] = {}
        for path, modified in self.files.items():
            if not path.startswith(prefix):
                continue
            name, _, rest = path[len(prefix):].partition("/")
            if rest:
                children.setdefault(name, {"path": prefix + name + "/", "name": name, "is_directory": True})
            else:
                children[name] = {"path": path, "name": name, "is_directory": False, "file_size": 10,
                                  "last_modified": modified}
        children.update({d[len(prefix):]: {"path": d + "/", "name": d[len(prefix):], "is_directory": True}
                         for d in self.directories if d.startswith(prefix) and "/" not in d[len(prefix):]})
        if not children and directory not in self.directories:
            return 404, {"error_code": "NOT_FOUND", "message": f"The directory {directory} does not exist."}
        size = min(int(query.get("page_size", [str(self.directory_page_size)])[0]), self.directory_page_size)
        start = int(query.get("page_token", ["0"])[0])
        entries = [children[k] for k in sorted(children)]
        answer: dict[str, Any] = {"contents": entries[start:start + size]}
        if start + size < len(entries):
            answer["next_page_token"] = str(start + size)
        return 200, answer

    def _list(self, query: dict) -> dict:
        wanted = query.get("filter", [""])[0]
        like = re.fullmatch(r"name LIKE '(.*)'", wanted)
        pattern = re.compile("^" + re.escape(like.group(1)).replace("%", ".*") + "$") if like else None
        statuses = [
            {"pipeline_id": pid, "name": p["name"], "state": self._pipeline_json(pid)["state"]}
            for pid, p in self.pipelines.items() if pattern is None or pattern.match(p["name"])
        ]
        return {"statuses": statuses}

    def _events(self, pipeline_id: str, query: dict) -> tuple[int, dict] | dict:
        start = 0
        if "page_token" in query:
            if set(query) - {"page_token", "max_results"}:
                return {"__status": 400, "error_code": "INVALID_PARAMETER_VALUE",
                        "message": "page_token cannot be combined with fields other than max_results"}
            saved, start = json.loads(query["page_token"][0])
            query = {**saved, "max_results": query.get("max_results", ["25"])}
        events = [e for e in self.events[pipeline_id] if self._visible_from.get(e["id"], 0) <= self.ticks]
        clauses = _filter_clauses(query.get("filter", [""])[0])
        if isinstance(clauses, str):
            return {"__status": 400, "error_code": "INVALID_PARAMETER_VALUE", "message": clauses}
        events = [e for e in events if all(_holds(e, clause) for clause in clauses)]
        if "timestamp asc" not in " ".join(query.get("order_by", [])):
            events = list(reversed(events))
        size = int(query.get("max_results", ["25"])[0])
        page = events[start:start + size]
        self.served.update(e["id"] for e in page)
        after = next((value for column, op, value in clauses if column == "timestamp" and op == ">"), None)
        window_end = _shifted(after, OVERLAP_SECONDS) if after else None
        self.served_fresh.update(e["id"] for e in page if window_end is None or e["timestamp"] > window_end)
        if self.events_without_details:
            page = [{k: v for k, v in e.items() if k != "details"} for e in page]
        answer: dict[str, Any] = {"events": page}
        if start + size < len(events):
            kept = {k: v for k, v in query.items() if k in ("filter", "order_by")}
            answer["next_page_token"] = json.dumps([kept, start + size])
        return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                with fake._lock:
                    fake.requests.append((method, url.path, query, body))
                    fault = next((f for f in fake.faults if f[0] in url.path), None)
                    if fault:
                        fake.faults.remove(fault)
                    if fault and fault[1] == "drop":
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if fault:
                        status, payload = fault[1], {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "try later"}
                        # Like some proxies and gateways, echo the request's credentials back.
                        echoed = f"denied for header {self.headers.get('Authorization')}"
                        if status in (401, 403):
                            payload = {"error_code": "PERMISSION_DENIED" if status == 403 else "UNAUTHENTICATED",
                                       "message": f"Invalid access token: {echoed}"}
                        elif status == 500:
                            payload = {"error_code": "INTERNAL_ERROR", "message": f"internal error: {echoed}"}
                    elif url.path != "/.well-known/databricks-config" and \
                            self.headers.get("Authorization") != f"Bearer {fake.token}":
                        status, payload = 401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."}
                    else:
                        status, payload = fake.answer(method, url.path, query, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                if status in (429, 503):
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

        return Handler
