"""Pipeline updates Dagster did not start, reported as materializations, each exactly once.

The bundle's job, a manual refresh in the workspace UI or a schedule in Databricks refresh
tables too. A triggered update is read once it has ended; a continuous pipeline's update never
ends, so it is read as it goes: each tick reports what the update refreshed since the last one.
The sensor's cursor keeps, per pipeline, the updates already reported and where reading of
running ones stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagster import AssetCheckEvaluation, AssetKey, AssetMaterialization, RunsFilter, SensorEvaluationContext

from etl_assets.project.config import Pipeline, ProjectConfig
from etl_assets.engines.databricks.client import call, workspace_client
from etl_assets.engines.databricks.updates import (
    TERMINAL,
    UPDATE_TAG_PREFIX,
    TableProgress,
    apply_event,
    expectation_outcomes,
    materialization_metadata,
    update_link,
)
from etl_assets.engines.databricks.events import EventReader
from etl_assets.engines.databricks.lookup import resolve_pipeline_id
from etl_assets.engines.databricks.settings import DatabricksSettings

REMEMBERED = 200  # reported update ids kept per pipeline in the cursor
LISTED = 25  # most recent updates looked at per pipeline and tick

AssetEvent = AssetMaterialization | AssetCheckEvaluation


@dataclass
class DatabricksObserver:
    """One tick of the observer against the workspace: events to record and the next cursor."""

    config: ProjectConfig
    keys: dict[str, AssetKey]
    context: SensorEvaluationContext

    def tick(self, cursor: dict[str, Any]) -> tuple[list[AssetEvent], dict[str, Any]]:
        w = workspace_client(DatabricksSettings.from_env())
        events: list[AssetEvent] = []
        for pipeline in self.config.pipelines.values():
            tables = [t.name for t in self.config.tables_of(pipeline.key)]
            if not tables:
                continue
            state = _pipeline_state(cursor.get(pipeline.key))
            events += self._pipeline(w, pipeline, tables, state)
            cursor[pipeline.key] = state
        return events, cursor

    def _pipeline(self, w: Any, pipeline: Pipeline, tables: list[str], state: dict[str, Any]) -> list[AssetEvent]:
        pipeline_id = resolve_pipeline_id(w, pipeline)
        listing = call(w.config, f"listing updates of '{pipeline.name}'",
                       lambda: w.pipelines.list_updates(pipeline_id, max_results=LISTED))
        updates = list(reversed(listing.updates or []))  # oldest first
        done, reading = state["done"], state["reading"]
        events: list[AssetEvent] = []
        for update in updates:
            update_id = update.update_id
            status = update.state.value if update.state is not None else None
            if update_id in done or status is None:
                continue
            finished = status in TERMINAL
            if not pipeline.continuous:
                # A triggered update is reported whole once it has ended, unless a run of ours
                # started it (that run reported it as it went).
                if not finished:
                    continue
                done.append(update_id)
                if self._ours(pipeline.key, update_id):
                    continue
                reader = EventReader(w, pipeline_id, update_id)
            else:
                # A continuous update is only ever reported here, whoever started it.
                position = reading.get(update_id)
                reader = (EventReader.resume(w, pipeline_id, update_id, position) if position
                          else EventReader(w, pipeline_id, update_id))
            events += self._report(w, pipeline, pipeline_id, update_id, reader.read_new(), tables)
            if not pipeline.continuous:
                continue
            if finished:
                done.append(update_id)
                reading.pop(update_id, None)
            else:
                reading[update_id] = reader.position
        listed = {u.update_id for u in updates}
        for update_id in [u for u in reading if u not in listed]:
            # Gone from the listing without being seen to end: nothing more can be read of it.
            reading.pop(update_id)
        del done[:-REMEMBERED]
        return events

    def _ours(self, pipeline_key: str, update_id: str) -> bool:
        runs = self.context.instance.get_run_records(
            RunsFilter(tags={f"{UPDATE_TAG_PREFIX}{pipeline_key}": update_id}), limit=1)
        return bool(runs)

    def _report(self, w: Any, pipeline: Pipeline, pipeline_id: str, update_id: str, slice_: list[dict],
                tables: list[str]) -> list[AssetEvent]:
        """What these events of an update refreshed: a table whose flow completed, or, in a
        continuous update, a table whose flow wrote rows (the metrics are this slice's)."""
        if not slice_:
            return []
        progress = {t: TableProgress() for t in tables}
        log = _QuietLog(self.context.log)
        for event in slice_:
            apply_event(event, progress, [], log)
        refreshed = [t for t in tables
                     if progress[t].completed or (pipeline.continuous and any(progress[t].metrics.values()))]
        if not refreshed:
            return []
        link = update_link(w, pipeline_id, update_id)
        self.context.log.info(f"update {update_id} of pipeline '{pipeline.name}' refreshed {', '.join(refreshed)}")
        events: list[AssetEvent] = []
        for table in refreshed:
            metadata = {**materialization_metadata(progress[table], update_id, pipeline_id, link, False),
                        "observed": True}
            if pipeline.continuous:
                metadata["continuous"] = True
            events.append(AssetMaterialization(asset_key=self.keys[table], metadata=metadata))
            for outcome in expectation_outcomes(self.config.table(table).expectations, progress[table], update_id,
                                                missing_fails=False):
                events.append(AssetCheckEvaluation(asset_key=self.keys[table], **outcome))
        return events


def _pipeline_state(saved: Any) -> dict[str, Any]:
    """A pipeline's part of the cursor; an older cursor held only the list of reported updates."""
    if isinstance(saved, list):
        return {"done": saved, "reading": {}}
    saved = saved or {}
    return {"done": list(saved.get("done", [])), "reading": dict(saved.get("reading", {}))}


class _QuietLog:
    """A log that keeps per-table progress lines out of the sensor's log, errors as warnings."""

    def __init__(self, log: Any):
        self._log = log

    def info(self, message: str) -> None:
        pass

    def error(self, message: str) -> None:
        self._log.warning(message)
