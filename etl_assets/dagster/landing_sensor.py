"""The landing sensor: new raw files request a run of the bronze tables that read them.

Locally the landing folder is ETL_ASSETS_HOME/landing; on Databricks it is the volume each
pipeline reads (its `etl_assets.landing_path` setting, or $ETL_ASSETS_LANDING_VOLUME), listed
through the SDK's Files API. The cursor keeps, per source, the newest arrival time seen and
the names that arrived within an hour of it: each file triggers once, and the cursor stays
small however many files the folder keeps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetKey,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from etl_assets.dagster.resources import PipelinesEngineResource
from etl_assets.project.config import ProjectConfig
from etl_assets.project.graph import TableGraph

LANDING_SENSOR = "landing_files"
WINDOW_MS = 3_600_000  # files arriving up to an hour behind the newest one seen still count


def new_files(listing: dict[str, int], state: Any) -> tuple[list[str], dict[str, Any]]:
    """The files of `listing` not seen before, and the source's next cursor state."""
    if isinstance(state, list):  # a cursor from before arrival times: every name it held was seen
        state = {"mark": None, "recent": state}
    state = state or {}
    mark, recent = state.get("mark"), set(state.get("recent", []))
    floor = None if mark is None else mark - WINDOW_MS
    new = sorted(n for n, t in listing.items() if n not in recent and (floor is None or t >= floor))
    if listing:
        mark = max(mark or 0, *listing.values())
    kept = sorted(n for n, t in listing.items() if mark is not None and t >= mark - WINDOW_MS)
    return new, {"mark": mark, "recent": kept}


def build_landing_sensor(config: ProjectConfig, keys: Mapping[str, AssetKey]) -> SensorDefinition:
    """New raw files request a run of the bronze tables reading them (and, when the source says
    `refresh_downstream: true`, everything downstream). The cursor makes each file count once."""
    graph = TableGraph(config)
    readers: dict[str, list[str]] = {}
    for table in config.tables:
        if table.source is not None:
            readers.setdefault(table.source.path, []).append(table.name)

    requested = {t for tables in readers.values() for t in _requested(config, graph, tables)}

    @sensor(name=LANDING_SENSOR, minimum_interval_seconds=30, default_status=DefaultSensorStatus.STOPPED,
            # What its run requests may select, and so where the UI lists it: the tables reading
            # landing files, and downstream only where a source asks for it.
            asset_selection=[keys[t] for t in graph.in_config_order(requested)],
            description="Refreshes the bronze tables whose landing folder or volume received new files")
    def landing(context: SensorEvaluationContext, engine: PipelinesEngineResource) -> SensorResult | SkipReason:
        running = engine.get_engine()
        seen: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
        requests, cursor = [], {}
        for path, tables in readers.items():
            where, listing = running.landing_listing(config, path, config.pipeline_of(tables[0]).key)
            new, cursor[path] = new_files(listing, seen.get(path))
            if not new:
                continue
            selected = _requested(config, graph, tables)
            requests.append(RunRequest(
                run_key=f"{path}:{new[0]}:{new[-1]}:{len(new)}",
                asset_selection=[keys[t] for t in selected],
                tags={"etl_assets/landing": path, "etl_assets/new_files": str(len(new))},
            ))
            context.log.info(f"{len(new)} new file(s) in {where}: refreshing {', '.join(selected)}")
        encoded = json.dumps(cursor, sort_keys=True)
        if not requests:
            return SensorResult(skip_reason="no new landing files", cursor=encoded)
        return SensorResult(run_requests=requests, cursor=encoded)

    return landing


def _requested(config: ProjectConfig, graph: TableGraph, tables: list[str]) -> list[str]:
    """The tables a run for new files of one source refreshes."""
    if any(_refreshes_downstream(config, t) for t in tables):
        return list(graph.downstream_closure(tables))
    return tables


def _refreshes_downstream(config: ProjectConfig, table: str) -> bool:
    source = config.table(table).source
    return source is not None and source.refresh_downstream
