"""The landing sensor: new raw files request a run of the bronze tables that read them.

Locally the landing folder is ETL_ASSETS_HOME/landing; on Databricks it is the volume each
pipeline reads (its `etl_assets.landing_path` setting, or $ETL_ASSETS_LANDING_VOLUME), listed
through the SDK's Files API. The cursor keeps, per source, the newest arrival time seen and
the names that arrived within an hour of it: each file triggers once, and the cursor stays
small however many files the folder keeps.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
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

from etl_assets.project.config import ProjectConfig
from etl_assets.engines.base import selected_engine_name
from etl_assets.errors import EtlAssetsError
from etl_assets.project.graph import TableGraph
from etl_assets.engines.local.home import LocalHome
from etl_assets.conventions import LANDING_CONF, is_data_file

LANDING_SENSOR = "landing_files"
VOLUME_ENV_VAR = "ETL_ASSETS_LANDING_VOLUME"
WINDOW_MS = 3_600_000  # files arriving up to an hour behind the newest one seen still count


def local_listing(folder: Path) -> dict[str, int]:
    """Data files under a local folder, with their arrival time in ms.

    Arrival is the later of the modification and the status-change time: moving an old file in
    keeps its modification time but changes its status-change time.
    """
    if not folder.is_dir():
        return {}
    listing = {}
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_file() and all(is_data_file(part) for part in relative.parts):
            stat = path.stat()
            listing[relative.as_posix()] = max(stat.st_mtime_ns, stat.st_ctime_ns) // 1_000_000
    return listing


def volume_listing(w: Any, directory: str) -> dict[str, int] | None:
    """Data files under a volume directory (all levels), with their last modification in ms;
    None when the directory does not exist (yet)."""
    from databricks.sdk.errors import NotFound

    from etl_assets.engines.databricks.client import api_errors

    listing: dict[str, int] = {}
    pending = [directory.rstrip("/")]
    with api_errors(w.config, f"listing {directory}"):
        while pending:
            current = pending.pop()
            try:
                entries = list(w.files.list_directory_contents(current))
            except NotFound:
                if current == directory.rstrip("/"):
                    return None
                continue  # removed while we were listing
            for entry in entries:
                name = entry.name or entry.path.rstrip("/").rsplit("/", 1)[-1]
                if not is_data_file(name):
                    continue
                if entry.is_directory:
                    pending.append(entry.path.rstrip("/"))
                else:
                    listing[entry.path[len(directory.rstrip("/")) + 1:]] = entry.last_modified or 0
    return listing


def directory_exists(w: Any, directory: str) -> bool:
    """One request: the first page of the directory, at most one entry."""
    from databricks.sdk.errors import NotFound

    from etl_assets.engines.databricks.client import api_errors

    with api_errors(w.config, f"listing {directory}"):
        try:
            next(iter(w.files.list_directory_contents(directory, page_size=1)), None)
        except NotFound:
            return False
    return True


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


class _Folders:
    """Where each source's files are, on the engine the sensor runs for."""

    def __init__(self, config: ProjectConfig, engine: str):
        self.config = config
        self.engine = engine
        self._w: Any = None
        self._roots: dict[str, str] = {}
        self._checked: set[str] = set()  # volume roots known to exist in this tick

    def listing(self, source_path: str, pipeline_key: str) -> tuple[str, dict[str, int]]:
        if self.engine == "local":
            folder = LocalHome.for_project(self.config.root).landing / source_path
            return str(folder), local_listing(folder)
        root = self._volume_root(pipeline_key).rstrip("/")
        directory = f"{root}/{source_path}"
        listing = volume_listing(self._client(), directory)
        if listing is None:
            # No folder for this source yet is normal; no volume at all is a mistake to report.
            if root not in self._checked and not directory_exists(self._client(), root):
                raise EtlAssetsError(
                    f"the landing volume {root} does not exist or cannot be listed: deploy the bundle "
                    f"(resources/foundation.yml creates it) or set {VOLUME_ENV_VAR} to the volume the pipelines read"
                )
            self._checked.add(root)
            return directory, {}
        return directory, listing

    def _client(self) -> Any:
        if self._w is None:
            from etl_assets.engines.databricks.client import workspace_client
            from etl_assets.engines.databricks.settings import DatabricksSettings

            self._w = workspace_client(DatabricksSettings.from_env())
        return self._w

    def _volume_root(self, pipeline_key: str) -> str:
        configured = os.environ.get(VOLUME_ENV_VAR, "").strip()
        if configured:
            return configured
        if pipeline_key not in self._roots:
            self._roots[pipeline_key] = self._pipeline_landing(pipeline_key)
        return self._roots[pipeline_key]

    def _pipeline_landing(self, pipeline_key: str) -> str:
        """The landing path the deployed pipeline reads: the sensor watches what bronze reads."""
        from etl_assets.engines.databricks.client import call
        from etl_assets.engines.databricks.lookup import resolve_pipeline_id

        w = self._client()
        pipeline = self.config.pipelines[pipeline_key]
        pipeline_id = resolve_pipeline_id(w, pipeline)
        info = call(w.config, f"reading pipeline '{pipeline.name}'", lambda: w.pipelines.get(pipeline_id))
        configuration = (info.spec.configuration if info.spec else None) or {}
        path = configuration.get(LANDING_CONF)
        if not path:
            raise EtlAssetsError(
                f"pipeline '{pipeline.name}' has no `{LANDING_CONF}` in its configuration, so the landing sensor "
                f"does not know which volume to watch: deploy the bundle (resources/pipelines.yml sets it) or set "
                f"{VOLUME_ENV_VAR}=/Volumes/<catalog>/<schema>/<volume>"
            )
        return path


def build_landing_sensor(config: ProjectConfig, keys: dict[str, AssetKey]) -> SensorDefinition:
    """New raw files request a run of the bronze tables reading them (and, when the source says
    `refresh_downstream: true`, everything downstream). The cursor makes each file count once."""
    graph = TableGraph(config)
    readers: dict[str, list[str]] = {}
    for table in config.tables:
        if table.source is not None:
            readers.setdefault(table.source.path, []).append(table.name)

    @sensor(name=LANDING_SENSOR, minimum_interval_seconds=30, default_status=DefaultSensorStatus.STOPPED,
            asset_selection=[keys[t] for t in graph.downstream_closure([n for ns in readers.values() for n in ns])],
            description="Refreshes the bronze tables whose landing folder or volume received new files")
    def landing(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        folders = _Folders(config, selected_engine_name())
        seen: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
        requests, cursor = [], {}
        for path, tables in readers.items():
            where, listing = folders.listing(path, config.pipeline_of(tables[0]).key)
            new, cursor[path] = new_files(listing, seen.get(path))
            if not new:
                continue
            refresh_downstream = any(config.table(t).source.refresh_downstream for t in tables)
            selected = graph.downstream_closure(tables) if refresh_downstream else tables
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
