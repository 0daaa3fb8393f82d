"""The pipeline observer sensor: refreshes made outside Dagster, reported as materializations.

Whoever ran the pipeline (the bundle's job, the workspace UI, a continuous pipeline, or
`spark-pipelines run` on this machine), the asset graph then tells the truth. Each refresh is
reported once: the cursor, kept by Dagster across restarts, says what was already reported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetKey,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from etl_assets.dagster.assets import UPDATE_TAG_PREFIX
from etl_assets.dagster.resources import PipelinesEngineResource
from etl_assets.dagster.results import observed_events
from etl_assets.engines.base import Provenance, TableWritten, UpdateMade, Verdict
from etl_assets.project.config import ProjectConfig

OBSERVER = "pipeline_observer"
IN_PROGRESS = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
               DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def build_pipeline_observer(config: ProjectConfig, keys: Mapping[str, AssetKey]) -> SensorDefinition:
    """A sensor reporting refreshes that no Dagster run of ours made, each once.

    >>> sensor = build_pipeline_observer(load_config(), keys)      # doctest: +SKIP
    """

    @sensor(name=OBSERVER, minimum_interval_seconds=60, default_status=DefaultSensorStatus.STOPPED,
            description="Reports pipeline refreshes made outside Dagster as materializations of their tables")
    def observer(context: SensorEvaluationContext, engine: PipelinesEngineResource) -> SensorResult:
        running = engine.get_engine()
        cursor = _load(context.cursor)
        judge = _Judge(context, keys)
        found, cursor[running.name] = running.observe(config, cursor.get(running.name, {}), judge)
        events = []
        for refresh in found:
            tables = sorted({getattr(e, "table", "") for e in refresh.events} - {""})
            context.log.info(f"{refresh.key} of pipeline '{refresh.pipeline}' refreshed {', '.join(tables)} "
                             "outside Dagster")
            events += observed_events(refresh, config, keys)
        encoded = json.dumps(cursor, sort_keys=True)
        if not events:
            return SensorResult(skip_reason=running.nothing_observed, cursor=encoded)
        return SensorResult(asset_events=events, cursor=encoded)

    return observer


class _Judge:
    """Tells the observer whether a refresh it found is one of ours, using Dagster's records."""

    def __init__(self, context: SensorEvaluationContext, keys: Mapping[str, AssetKey]):
        self.context = context
        self.keys = keys
        self._busy: set[AssetKey] | None = None

    def __call__(self, provenance: Provenance) -> Verdict:
        if isinstance(provenance, UpdateMade):  # our runs tag themselves with the update they started
            runs = self.context.instance.get_run_records(
                RunsFilter(tags={f"{UPDATE_TAG_PREFIX}{provenance.pipeline}": provenance.update_id}), limit=1)
            return "ours" if runs else "theirs"
        asset = self.keys[provenance.table]
        if asset in self.busy():
            return "busy"
        return "ours" if self._recorded(asset, provenance) else "theirs"

    def busy(self) -> set[AssetKey]:
        """Assets a Dagster run in progress may be writing right now."""
        if self._busy is None:
            self._busy = set()
            for run in self.context.instance.get_runs(RunsFilter(statuses=IN_PROGRESS)):
                if run.asset_selection is None:
                    self._busy = set(self.keys.values())  # a run of a whole job: any table may be written
                    break
                self._busy |= set(run.asset_selection)
        return self._busy

    def _recorded(self, asset: AssetKey, written: TableWritten) -> bool:
        """Whether the latest materialization accounts for this version of the table."""
        event = self.context.instance.get_latest_materialization_event(asset)
        if event is None or event.asset_materialization is None:
            return False
        recorded = event.asset_materialization.metadata.get("table_version")
        if recorded is not None:
            return getattr(recorded, "value", recorded) == written.version
        # Recorded by a release that did not note versions: it covers commits made before it.
        return event.timestamp >= written.committed_at


def _load(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    saved = json.loads(raw)
    if saved and not ({"databricks", "local"} & set(saved)):
        return {"databricks": saved}  # a cursor from before the local engine was observed
    return saved
