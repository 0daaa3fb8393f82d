"""The pipeline observer on the local engine: tables rewritten outside Dagster.

A `spark-pipelines run` started by hand, a notebook or a script writing the warehouse leave
no record Dagster could read, but each Spark commit changes the table's version (see
`table_version`). Every materialization the local engine records carries the version it saw;
a table whose current version no materialization carries was changed outside Dagster, and is
reported once, with the same metadata as our own runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagster import AssetKey, AssetMaterialization, DagsterRunStatus, MetadataValue, RunsFilter, SensorEvaluationContext

from etl_assets.project.config import ProjectConfig
from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.tables import count_rows, table_version, version_time

IN_PROGRESS = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
               DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


@dataclass
class LocalObserver:
    """One tick over the local warehouse: materializations to record and the next cursor.

    The cursor maps each table to the last version looked at, so unchanged tables cost one
    `stat` and no query; the event log stays the judge of what was already reported.
    """

    config: ProjectConfig
    keys: dict[str, AssetKey]
    context: SensorEvaluationContext

    def tick(self, cursor: dict[str, str]) -> tuple[list[AssetMaterialization], dict[str, str]]:
        home = LocalHome.for_project(self.config.root)
        busy: set[AssetKey] | None = None  # assets a Dagster run may be writing right now
        events = []
        for table in self.config.tables:
            location = home.table_location(table.name)
            version = table_version(location)
            if version is None or cursor.get(table.name) == version:
                continue
            key = self.keys[table.name]
            if busy is None:
                busy = self._busy()
            if key in busy:
                continue  # the run will record it; look again once it has ended
            cursor[table.name] = version
            if self._recorded(key, version):
                continue
            self.context.log.info(f"{table.name} was changed outside Dagster (version {version})")
            metadata: dict[str, Any] = {
                "table_location": MetadataValue.path(str(location)),
                "engine": "local",
                "table_version": version,
                "observed": True,
            }
            rows = count_rows(location)
            if rows is not None:
                metadata["dagster/row_count"] = rows
            events.append(AssetMaterialization(asset_key=key, metadata=metadata))
        return events, cursor

    def _busy(self) -> set[AssetKey]:
        busy: set[AssetKey] = set()
        for run in self.context.instance.get_runs(RunsFilter(statuses=IN_PROGRESS)):
            if run.asset_selection is None:
                return set(self.keys.values())  # a run of a whole job: any table may be written
            busy |= set(run.asset_selection)
        return busy

    def _recorded(self, key: AssetKey, version: str) -> bool:
        """Whether the latest materialization accounts for this version of the table."""
        event = self.context.instance.get_latest_materialization_event(key)
        if event is None or event.asset_materialization is None:
            return False
        recorded = event.asset_materialization.metadata.get("table_version")
        if recorded is not None:
            return getattr(recorded, "value", recorded) == version
        # Recorded by a release that did not note versions: it covers commits made before it.
        return event.timestamp >= version_time(version)
