"""Folding a pipeline update's event log into each table's progress, and that into neutral events.

Which table an event is about: Unity Catalog pipelines name datasets `catalog.schema.table`,
possibly back-quoted; a flow can be named apart from the table it writes (AUTO CDC and append
flows), and some events (a FAILED flow's) carry only `origin.flow_name`. `flow_definition`
events say which dataset each flow writes; `FlowNames` remembers that.

Which metrics are rows: only the documented row counters. Other `flow_progress` metrics
(`backlog_bytes`, `backlog_files`, `executor_count`, ...) are gauges: a reading at that moment,
kept as the latest value, never summed and never counted as rows written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from etl_assets.conventions import name_parts
from etl_assets.engines.events import (
    COLUMNS,
    NOT_REPORTED,
    EngineEvent,
    FlowStatus,
    Link,
    Log,
    QualityReported,
    TableCompleted,
    UpdateStatus,
)
from etl_assets.engines.flows import takes_state

TERMINAL = {s.value for s in UpdateStatus if s is not UpdateStatus.UNKNOWN}  # update states that end it
ACTIVE = {"QUEUED", "CREATED", "WAITING_FOR_RESOURCES", "INITIALIZING", "RESETTING", "SETTING_UP_TABLES",
          "RUNNING", "STOPPING"}
# Flow statuses that are a table's last word in an update.
FINAL_STATUSES = {s for s in FlowStatus if s.final}
# Row counters of `flow_progress.metrics`, each a count for that event (summed over events).
# `num_upserted_rows` / `num_deleted_rows` are what AUTO CDC flows report instead of
# `num_output_rows` (Databricks docs, AUTO CDC: "Get data about records processed by a CDC query").
OUTPUT_ROWS = "num_output_rows"
CDC_ROWS = ("num_upserted_rows", "num_deleted_rows")
ROW_COUNTERS = (OUTPUT_ROWS, *CDC_ROWS)
# Counters that are not rows, summed too (deltas per event, as the docs describe them).
OTHER_COUNTERS = ("num_output_bytes",)


def _key(name: str) -> str:
    # Unity Catalog names are case-insensitive.
    return ".".join(name_parts(name)).casefold()


def _bare(name: str) -> str:
    return name_parts(name)[-1].casefold()


class FlowNames:
    """Which config table an event is about, from `origin.dataset_name`, from the flow-to-dataset
    map that `flow_definition` events build, or from a flow named after its table.

    Args:
        tables: the config tables of the pipeline (bare names).
        known: flow -> table pairs remembered from earlier events (see `saved`).
    """

    def __init__(self, tables: Iterable[str], known: Mapping[str, str] | None = None):
        self.tables = {t.casefold(): t for t in tables}
        self.flows: dict[str, str] = {}
        for flow, table in (known or {}).items():
            if table.casefold() in self.tables:
                self._remember(flow, self.tables[table.casefold()])

    def _remember(self, flow: str, table: str) -> None:
        self.flows[_key(flow)] = table
        self.flows.setdefault(_bare(flow), table)

    def learn(self, event: Mapping[str, Any]) -> None:
        """Remember the dataset a `flow_definition` event says its flow writes."""
        definition = (event.get("details") or {}).get("flow_definition")
        if event.get("event_type") != "flow_definition" or not isinstance(definition, Mapping):
            return
        origin = event.get("origin") or {}
        flow = definition.get("flow_name") or origin.get("flow_name")
        dataset = definition.get("output_dataset") or origin.get("dataset_name")
        if flow and dataset and _bare(dataset) in self.tables:
            self._remember(flow, self.tables[_bare(dataset)])

    def table_of(self, event: Mapping[str, Any]) -> str | None:
        """The config table the event is about, or None (another dataset, or the whole update)."""
        origin = event.get("origin") or {}
        dataset, flow = origin.get("dataset_name"), origin.get("flow_name")
        if dataset and _bare(dataset) in self.tables:
            return self.tables[_bare(dataset)]
        if flow:
            mapped = self.flows.get(_key(flow)) or self.flows.get(_bare(flow))
            if mapped:
                return mapped
            if not dataset and _bare(flow) in self.tables:  # a default flow is named after its table
                return self.tables[_bare(flow)]
        return None

    def saved(self) -> dict[str, str]:
        """Flows whose name differs from their table, to resume in another process (small)."""
        return {flow: table for flow, table in self.flows.items() if _bare(flow) != table.casefold()}


@dataclass
class TableProgress:
    """What the event log said of one table in this update."""

    status: FlowStatus | None = None
    status_at: str | None = None  # timestamp of the event that set `status`
    counters: dict[str, int] = field(default_factory=dict)  # row and byte counters, summed over events
    gauges: dict[str, Any] = field(default_factory=dict)  # other metrics: the latest reading
    rows_written: int | None = None  # None until a row counter is reported
    rows_from: set[str] = field(default_factory=set)  # which counters `rows_written` comes from
    dropped_records: int = 0
    expectations: dict[str, list[int]] = field(default_factory=dict)  # name -> [passed, failed]
    errors: list[str] = field(default_factory=list)
    completed: bool = False  # a flow of the table completed in these events (its last status may differ)
    columns: list[dict[str, str]] | None = None  # from the flow's definition, when the event log gives it

    def add_metrics(self, metrics: Mapping[str, Any]) -> None:
        """Fold one event's `flow_progress.metrics`: counters add up, gauges are replaced."""
        for key, value in metrics.items():
            if value is None:  # reported as null: nothing known, not zero
                continue
            if key in ROW_COUNTERS or key in OTHER_COUNTERS:
                if isinstance(value, (int, float)):
                    self.counters[key] = self.counters.get(key, 0) + int(value)
            elif isinstance(value, (int, float, str, bool)):
                self.gauges[key] = value
        # A flow writing with AUTO CDC reports upserts and deletes and no output rows; counting
        # both kinds for one event would count a row twice.
        if metrics.get(OUTPUT_ROWS) is not None:
            self.rows_written = (self.rows_written or 0) + metrics[OUTPUT_ROWS]
            self.rows_from.add(OUTPUT_ROWS)
        elif any(metrics.get(k) is not None for k in CDC_ROWS):
            self.rows_written = (self.rows_written or 0) + sum(metrics.get(k) or 0 for k in CDC_ROWS)
            self.rows_from.add(" + ".join(CDC_ROWS))


def apply_event(event: Mapping[str, Any], progress: dict[str, TableProgress], run_errors: list[str],
                flows: FlowNames | None = None) -> list[Log]:
    """Fold one event-log event into the tables' progress; errors of no table go to `run_errors`.

    `flows` maps flow names to tables across events (pass the same one for a whole update);
    without it only dataset names and flows named after their table are recognized.
    Returns the log lines the event deserves (progress at info, errors at error).
    """
    flows = flows if flows is not None else FlowNames(progress)
    flows.learn(event)
    logs: list[Log] = []
    table = flows.table_of(event)
    errors = [e.get("message", "") for e in ((event.get("error") or {}).get("exceptions") or [])]
    if event.get("level") == "ERROR" or errors:
        text = "; ".join(m for m in errors if m) or event.get("message", "")
        if table in progress:
            progress[table].errors.append(f"{table}: {text}")
        else:
            run_errors.append(text)
        logs.append(Log(f"{table or 'pipeline'}: {text}", "error"))
    if event.get("event_type") == "flow_definition" and table in progress:
        found = flow_columns(event)
        if found:
            progress[table].columns = found
    flow = (event.get("details") or {}).get("flow_progress")
    if event.get("event_type") != "flow_progress" or not flow or table not in progress:
        if event.get("event_type") == "update_progress":
            logs.append(Log(event.get("message", "")))
        return logs
    record = progress[table]
    stamp = event.get("timestamp")
    status = FlowStatus.of(flow.get("status"))
    # A METRICS-level event is a reading of counters and gauges, not a change of status; an
    # event read late (its timestamp before the status we hold) does not take the status back.
    if status and takes_state(record.status_at, stamp, event.get("level") == "METRICS"):
        record.status, record.status_at = status, stamp or record.status_at
        logs.append(Log(f"{table}: {status}", "debug"))  # each table's outcome is one info line (updates.py)
    record.completed = record.completed or status is FlowStatus.COMPLETED
    record.add_metrics(flow.get("metrics") or {})
    quality = flow.get("data_quality") or {}
    record.dropped_records += quality.get("dropped_records") or 0
    for expectation in quality.get("expectations") or []:
        counts = record.expectations.setdefault(expectation.get("name"), [0, 0])
        counts[0] += expectation.get("passed_records") or 0
        counts[1] += expectation.get("failed_records") or 0
    return logs


def flow_columns(event: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """The output columns a `flow_definition` event gives (`details.flow_definition.schema`:
    fields with `name` and `data_type`, maybe `comment`), or None."""
    definition = (event.get("details") or {}).get("flow_definition") or {}
    fields = definition.get("schema") if isinstance(definition, Mapping) else None
    if not isinstance(fields, list):
        return None
    found = []
    for field_ in fields:
        if not isinstance(field_, Mapping) or not field_.get("name"):
            continue
        column = {"name": str(field_["name"]), "type": str(field_.get("data_type") or field_.get("type") or "")}
        if field_.get("comment"):
            column["description"] = str(field_["comment"])
        found.append(column)
    return found or None


def update_link(host: str, pipeline_id: str, update_id: str) -> str:
    """The workspace page of an update."""
    return f"{host.rstrip('/')}/#joblist/pipelines/{pipeline_id}/updates/{update_id}"


def completion_events(table: str, record: TableProgress, update_id: str, pipeline_id: str, link: str,
                      full_refresh: bool, *, with_quality: bool = True, numbers_from: str = "") -> list[EngineEvent]:
    """A table's completion (and, when the update reported any, its expectation results).

    `rows_written` is what this update wrote (for AUTO CDC flows, rows upserted plus rows
    deleted), with `rows_written_from` naming the counters; it is not the table's row count, so
    no `row_count` is given. Counters the event log did not report are left out rather than
    shown as 0, and `rows_written` is then `not reported`, with `numbers_from` (when given)
    saying where the numbers would come from; gauges appear under their own names with their
    latest reading.
    """
    metadata: dict[str, Any] = {k: v for k, v in record.gauges.items()}
    metadata.update({k: record.counters[k] for k in (*ROW_COUNTERS, *OTHER_COUNTERS) if k in record.counters})
    if record.rows_written is not None:
        metadata["rows_written"] = record.rows_written
        metadata["rows_written_from"] = " and ".join(sorted(record.rows_from))
    else:
        metadata["rows_written"] = NOT_REPORTED
        if numbers_from:
            metadata["numbers_from"] = numbers_from
    metadata.update({
        "dropped_records": record.dropped_records,
        "update_id": update_id,
        "pipeline_id": pipeline_id,
        "update_url": Link(link),
        "full_refresh": full_refresh,
        "engine": "databricks",
    })
    if record.columns:
        metadata[COLUMNS] = record.columns
    events: list[EngineEvent] = [TableCompleted(table, metadata=metadata)]
    if with_quality:
        counts = {name: (c[0], c[1]) for name, c in record.expectations.items()}
        # A flow that wrote and dropped nothing reports no expectations: its checks saw no rows.
        checked = (max(p + f for p, f in counts.values()) if counts
                   else 0 if record.rows_written == 0 and record.dropped_records == 0 else None)
        hint = "" if counts or checked is not None else numbers_from
        events.append(QualityReported(table, counts, dropped_records=record.dropped_records, rows_checked=checked,
                                      hint=hint, metadata={"update_id": update_id}))
    return events
