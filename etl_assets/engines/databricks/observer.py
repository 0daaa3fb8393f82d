"""Pipeline updates no run of ours started, read from the workspace, each reported once.

The bundle's job, a manual refresh in the workspace UI or a schedule in Databricks refresh
tables too. A triggered update is read once it has ended (and once more if a table it ran had not yet
shown its final status: events show up seconds late); a continuous pipeline's update never
ends, so it is read as it goes: each call reports what the update refreshed since the last.
The cursor keeps, per pipeline, the updates already reported and where reading of running
ones stopped (with the flows named apart from their table, learnt from the update's first events).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from databricks.sdk import WorkspaceClient

from etl_assets.engines.base import ObservedRefresh, Provenance, UpdateMade, Verdict
from etl_assets.engines.databricks.client import call
from etl_assets.engines.databricks.event_log import EventReader
from etl_assets.engines.databricks.lookup import resolve_pipeline_id
from etl_assets.engines.databricks.progress import (
    FINAL_STATUSES,
    TERMINAL,
    FlowNames,
    TableProgress,
    apply_event,
    completion_events,
    update_link,
)
from etl_assets.engines.events import EngineEvent, TableCompleted
from etl_assets.project.config import Pipeline, ProjectConfig

REMEMBERED = 200  # reported update ids kept per pipeline in the cursor
LISTED = 25  # most recent updates looked at per pipeline and call


def observe_updates(w: WorkspaceClient, config: ProjectConfig, cursor: dict[str, Any],
                    judge: Callable[[Provenance], Verdict]) -> tuple[list[ObservedRefresh], dict[str, Any]]:
    """Refreshes made by updates we did not start since `cursor`, and the next cursor.

    `judge(UpdateMade(pipeline_key, update_id))` says whether one of our runs started the update.
    """
    found: list[ObservedRefresh] = []
    for pipeline in config.pipelines.values():
        tables = [t.name for t in config.tables_of(pipeline.key)]
        if not tables:
            continue
        state = _pipeline_state(cursor.get(pipeline.key))
        found += _pipeline(w, pipeline, tables, state, judge)
        cursor[pipeline.key] = state
    return found, cursor


def _pipeline(w: WorkspaceClient, pipeline: Pipeline, tables: list[str], state: dict[str, Any],
              judge: Callable[[Provenance], Verdict]) -> list[ObservedRefresh]:
    pipeline_id = resolve_pipeline_id(w, pipeline)
    listing = call(w.config, f"listing updates of '{pipeline.name}'",
                   lambda: w.pipelines.list_updates(pipeline_id, max_results=LISTED))
    updates = list(reversed(listing.updates or []))  # oldest first
    done, reading = state["done"], state["reading"]
    found: list[ObservedRefresh] = []
    for update in updates:
        update_id = update.update_id
        status = update.state.value if update.state is not None else None
        if update_id is None or update_id in done or status is None:
            continue
        finished = status in TERMINAL
        position = reading.get(update_id)
        if not pipeline.continuous:
            # A triggered update is reported once it has ended, unless a run of ours started
            # it (that run reported it as it went).
            if not finished:
                continue
            if position is None and judge(UpdateMade(pipeline.key, update_id)) == "ours":
                done.append(update_id)
                continue
        # A continuous update is only ever reported here, whoever started it, slice by slice.
        reader = (EventReader.resume(w, pipeline_id, update_id, position) if position
                  else EventReader(w, pipeline_id, update_id))
        # `flow_definition` events come at the update's start: keep what they said.
        flows = FlowNames(tables, (position or {}).get("flows"))
        progress = {t: TableProgress() for t in tables}
        for event in reader.read_new():
            apply_event(event, progress, [], flows)
        refresh = _refresh(w.config.host, pipeline, pipeline_id, update_id, progress)
        if refresh is not None:
            found.append(refresh)
        # Events show up seconds after they happen: a triggered update that ended with a table
        # still short of its final status is read once more at the next call.
        settling = (not pipeline.continuous and position is None
                    and any(p.status is not None and p.status not in FINAL_STATUSES for p in progress.values()))
        if finished and not settling:
            done.append(update_id)
            reading.pop(update_id, None)
        else:
            reading[update_id] = {**reader.position, "flows": flows.saved()}
    listed = {u.update_id for u in updates}
    for update_id in [u for u in reading if u not in listed]:
        # Gone from the listing without being seen to end: nothing more can be read of it.
        reading.pop(update_id)
    del done[:-REMEMBERED]
    return found


def _refresh(host: str, pipeline: Pipeline, pipeline_id: str, update_id: str,
             progress: dict[str, TableProgress]) -> ObservedRefresh | None:
    """What a slice of an update's events refreshed: a table whose flow completed, or, in a
    continuous update, a table whose flow wrote rows (the counts are this slice's; backlog
    gauges are not rows)."""
    tables = list(progress)
    refreshed = [t for t in tables
                 if progress[t].completed or (pipeline.continuous and (progress[t].rows_written or 0) > 0)]
    if not refreshed:
        return None
    link = update_link(host, pipeline_id, update_id)
    events: list[EngineEvent] = []
    for table in refreshed:
        for event in completion_events(table, progress[table], update_id, pipeline_id, link, False):
            if isinstance(event, TableCompleted) and pipeline.continuous:
                event = replace(event, metadata={**event.metadata, "continuous": True})
            events.append(event)
    return ObservedRefresh(pipeline.key, events, key=update_id, metadata={"observed": True})


def _pipeline_state(saved: Any) -> dict[str, Any]:
    """A pipeline's part of the cursor; an older cursor held only the list of reported updates."""
    if isinstance(saved, list):
        return {"done": saved, "reading": {}}
    saved = saved or {}
    return {"done": list(saved.get("done", [])), "reading": dict(saved.get("reading", {}))}
