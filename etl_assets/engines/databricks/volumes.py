"""Raw files in the landing volume a deployed pipeline reads, listed through the Files API."""

from __future__ import annotations

from typing import Any

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound

from etl_assets.conventions import LANDING_CONF, is_data_file
from etl_assets.engines.databricks.client import api_errors, call
from etl_assets.engines.databricks.lookup import resolve_pipeline_id
from etl_assets.errors import DataError
from etl_assets.project.config import ProjectConfig


def volume_listing(w: Any, directory: str) -> dict[str, int] | None:
    """Data files under a volume directory (all levels), with their last modification in ms;
    None when the directory does not exist (yet)."""
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
    with api_errors(w.config, f"listing {directory}"):
        try:
            next(iter(w.files.list_directory_contents(directory, page_size=1)), None)
        except NotFound:
            return False
    return True


class VolumeLanding:
    """Where each source's files are in the workspace: the volume each pipeline reads (its
    `etl_assets.landing_path` setting), or one volume given explicitly.

    Volume roots and pipeline settings are looked up once per instance.
    """

    def __init__(self, w: WorkspaceClient, config: ProjectConfig, volume: str | None = None):
        self.w = w
        self.config = config
        self.volume = (volume or "").strip() or None
        self._roots: dict[str, str] = {}
        self._checked: set[str] = set()  # volume roots known to exist

    def listing(self, source_path: str, pipeline_key: str) -> tuple[str, dict[str, int]]:
        """(directory, data files with arrival times) of one source; a missing volume is an error."""
        root = self._volume_root(pipeline_key).rstrip("/")
        directory = f"{root}/{source_path}"
        listing = volume_listing(self.w, directory)
        if listing is None:
            # No folder for this source yet is normal; no volume at all is a mistake to report.
            if root not in self._checked and not directory_exists(self.w, root):
                raise DataError(
                    f"the landing volume {root} does not exist or cannot be listed: deploy the bundle "
                    "(resources/foundation.yml creates it) or set landing_volume on the Databricks engine resource "
                    "(ETL_ASSETS_LANDING_VOLUME for the default code location) to the volume the pipelines read"
                )
            self._checked.add(root)
            return directory, {}
        return directory, listing

    def _volume_root(self, pipeline_key: str) -> str:
        if self.volume:
            return self.volume
        if pipeline_key not in self._roots:
            self._roots[pipeline_key] = self._pipeline_landing(pipeline_key)
        return self._roots[pipeline_key]

    def _pipeline_landing(self, pipeline_key: str) -> str:
        """The landing path the deployed pipeline reads: the sensor watches what bronze reads."""
        pipeline = self.config.pipelines[pipeline_key]
        pipeline_id = resolve_pipeline_id(self.w, pipeline)
        info = call(self.w.config, f"reading pipeline '{pipeline.name}'", lambda: self.w.pipelines.get(pipeline_id))
        configuration = (info.spec.configuration if info.spec else None) or {}
        path = configuration.get(LANDING_CONF)
        if not path:
            raise DataError(
                f"pipeline '{pipeline.name}' has no `{LANDING_CONF}` in its configuration, so the landing sensor "
                "does not know which volume to watch: deploy the bundle (resources/pipelines.yml sets it) or set "
                "landing_volume=/Volumes/<catalog>/<schema>/<volume> on the Databricks engine resource"
            )
        return path
