"""Folding a pipeline update's event log into each table's progress, and that into neutral events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from etl_assets.engines.events import EngineEvent, Link, Log, QualityReported, TableCompleted

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


def apply_event(event: Mapping[str, Any], progress: dict[str, TableProgress], run_errors: list[str]) -> list[Log]:
    """Fold one event-log event into the tables' progress; errors of no table go to `run_errors`.

    Returns the log lines the event deserves (progress at info, errors at error).
    """
    logs: list[Log] = []
    origin = event.get("origin") or {}
    table = origin.get("dataset_name")
    errors = [e.get("message", "") for e in ((event.get("error") or {}).get("exceptions") or [])]
    if event.get("level") == "ERROR" or errors:
        text = "; ".join(m for m in errors if m) or event.get("message", "")
        if table in progress:
            progress[table].errors.append(f"{table}: {text}")
        else:
            run_errors.append(text)
        logs.append(Log(f"{table or 'pipeline'}: {text}", "error"))
    flow = (event.get("details") or {}).get("flow_progress")
    if event.get("event_type") != "flow_progress" or not flow or table not in progress:
        if event.get("event_type") == "update_progress":
            logs.append(Log(event.get("message", "")))
        return logs
    record = progress[table]
    record.status = flow.get("status", record.status)
    record.completed = record.completed or record.status == "COMPLETED"
    logs.append(Log(f"{table}: {record.status}"))
    metrics = flow.get("metrics") or {}
    for key, value in metrics.items():
        record.metrics[key] = record.metrics.get(key, 0) + (value or 0)
    quality = flow.get("data_quality") or {}
    record.dropped_records += quality.get("dropped_records") or 0
    for expectation in quality.get("expectations") or []:
        counts = record.expectations.setdefault(expectation.get("name"), [0, 0])
        counts[0] += expectation.get("passed_records") or 0
        counts[1] += expectation.get("failed_records") or 0
    return logs


def update_link(host: str, pipeline_id: str, update_id: str) -> str:
    """The workspace page of an update."""
    return f"{host.rstrip('/')}/#joblist/pipelines/{pipeline_id}/updates/{update_id}"


def completion_events(table: str, record: TableProgress, update_id: str, pipeline_id: str, link: str,
                      full_refresh: bool, *, with_quality: bool = True) -> list[EngineEvent]:
    """A table's completion (and, when the update reported any, its expectation results)."""
    metadata = {
        "num_output_rows": record.metrics.get("num_output_rows", 0),
        "num_upserted_rows": record.metrics.get("num_upserted_rows", 0),
        "num_deleted_rows": record.metrics.get("num_deleted_rows", 0),
        "dropped_records": record.dropped_records,
        "update_id": update_id,
        "pipeline_id": pipeline_id,
        "update_url": Link(link),
        "full_refresh": full_refresh,
        "engine": "databricks",
    }
    events: list[EngineEvent] = [TableCompleted(table, metadata=metadata)]
    if with_quality:
        counts = {name: (c[0], c[1]) for name, c in record.expectations.items()}
        events.append(QualityReported(table, counts, dropped_records=record.dropped_records,
                                      metadata={"update_id": update_id}))
    return events
