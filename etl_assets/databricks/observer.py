"""The pipeline observer: updates Dagster did not start, reported as materializations.

The bundle's job, a manual refresh in the workspace UI or a schedule in Databricks refresh
tables too; the observer reads each finished update's event log once and records what it
refreshed, with the same metadata as our own runs, so the asset graph tells the truth.
"""

from __future__ import annotations

import json
from typing import Any

from dagster import (
    AssetKey,
    AssetMaterialization,
    DefaultSensorStatus,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from etl_assets.config import ProjectConfig
from etl_assets.databricks.client import call, workspace_client
from etl_assets.databricks.engine import (
    TERMINAL,
    UPDATE_TAG_PREFIX,
    DatabricksEngine,
    TableProgress,
    materialization_metadata,
    update_link,
)
from etl_assets.databricks.events import EventReader
from etl_assets.databricks.lookup import resolve_pipeline_id
from etl_assets.databricks.settings import DatabricksSettings
from etl_assets.engines import selected_engine_name

OBSERVER = "pipeline_observer"
REMEMBERED = 200  # processed update ids kept per pipeline in the cursor


def build_pipeline_observer(config: ProjectConfig, keys: dict[str, AssetKey]) -> SensorDefinition:
    """A sensor reporting finished updates that no Dagster run of ours started, each once."""

    @sensor(name=OBSERVER, minimum_interval_seconds=60, default_status=DefaultSensorStatus.STOPPED,
            description="Reports pipeline updates started outside Dagster as materializations")
    def observer(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        engine = selected_engine_name()
        if engine != "databricks":
            return SkipReason("the pipeline observer follows Databricks pipelines (ETL_ASSETS_ENGINE=databricks); "
                              "on the local engine, runs made outside Dagster are not observed yet")
        w = workspace_client(DatabricksSettings.from_env())
        processed: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
        events: list[AssetMaterialization] = []
        for pipeline in config.pipelines.values():
            tables = [t.name for t in config.tables_of(pipeline.key)]
            if not tables:
                continue
            pipeline_id = resolve_pipeline_id(w, pipeline)
            seen = processed.setdefault(pipeline.key, [])
            listing = call(w.config, f"listing updates of '{pipeline.name}'",
                           lambda pid=pipeline_id: w.pipelines.list_updates(pid, max_results=25))
            finished = [u for u in reversed(listing.updates or [])
                        if u.state is not None and u.state.value in TERMINAL and u.update_id not in seen]
            for update in finished:
                seen.append(update.update_id)
                if _ours(context, pipeline.key, update.update_id):
                    continue
                events += _materializations(w, pipeline_id, update.update_id, tables, keys, context)
            del seen[:-REMEMBERED]
        cursor = json.dumps(processed, sort_keys=True)
        if not events:
            return SensorResult(skip_reason="no finished update started outside Dagster", cursor=cursor)
        return SensorResult(asset_events=events, cursor=cursor)

    return observer


def _ours(context: SensorEvaluationContext, pipeline_key: str, update_id: str) -> bool:
    runs = context.instance.get_run_records(RunsFilter(tags={f"{UPDATE_TAG_PREFIX}{pipeline_key}": update_id}), limit=1)
    return bool(runs)


def _materializations(w: Any, pipeline_id: str, update_id: str, tables: list[str], keys: dict[str, AssetKey],
                      context: SensorEvaluationContext) -> list[AssetMaterialization]:
    progress = {t: TableProgress() for t in tables}
    log = _Quiet(context)
    for event in EventReader(w, pipeline_id, update_id).read_new():
        DatabricksEngine._apply(event, progress, [], log)
    link = update_link(w, pipeline_id, update_id)
    refreshed = [t for t in tables if progress[t].status == "COMPLETED"]
    if refreshed:
        context.log.info(f"update {update_id} of {pipeline_id}, started outside Dagster, refreshed {', '.join(refreshed)}")
    return [
        AssetMaterialization(
            asset_key=keys[t],
            metadata={**materialization_metadata(progress[t], update_id, pipeline_id, link, False),
                      "observed": True},
        )
        for t in refreshed
    ]


class _Quiet:
    """A context whose log keeps per-table progress lines out of the sensor's log."""

    def __init__(self, context: SensorEvaluationContext):
        self.log = _QuietLog(context.log)


class _QuietLog:
    def __init__(self, log: Any):
        self._log = log

    def info(self, message: str) -> None:
        pass

    def error(self, message: str) -> None:
        self._log.warning(message)
