"""The pipeline observer sensor: refreshes made outside Dagster, reported as materializations.

Whoever ran the pipeline (the bundle's job, the workspace UI, a continuous pipeline, or
`spark-pipelines run` on this machine), the asset graph then tells the truth. Each refresh is
reported once: the cursor, kept by Dagster across restarts, says what was already reported.
"""

from __future__ import annotations

import json

from dagster import AssetKey, DefaultSensorStatus, SensorDefinition, SensorEvaluationContext, SensorResult, sensor

from etl_assets.project.config import ProjectConfig
from etl_assets.engines.base import selected_engine_name

OBSERVER = "pipeline_observer"


def build_pipeline_observer(config: ProjectConfig, keys: dict[str, AssetKey]) -> SensorDefinition:
    """A sensor reporting refreshes that no Dagster run of ours made, each once."""

    @sensor(name=OBSERVER, minimum_interval_seconds=60, default_status=DefaultSensorStatus.STOPPED,
            description="Reports pipeline refreshes made outside Dagster as materializations of their tables")
    def observer(context: SensorEvaluationContext) -> SensorResult:
        engine = selected_engine_name()
        cursor = _load(context.cursor)
        if engine == "databricks":
            from etl_assets.engines.databricks.observer import DatabricksObserver

            events, cursor["databricks"] = DatabricksObserver(config, keys, context).tick(cursor.get("databricks", {}))
            nothing = "no update started outside Dagster has refreshed tables since the last tick"
        else:
            from etl_assets.engines.local.observer import LocalObserver

            events, cursor["local"] = LocalObserver(config, keys, context).tick(cursor.get("local", {}))
            nothing = "no table was changed outside Dagster since the last tick"
        encoded = json.dumps(cursor, sort_keys=True)
        if not events:
            return SensorResult(skip_reason=nothing, cursor=encoded)
        return SensorResult(asset_events=events, cursor=encoded)

    return observer


def _load(raw: str | None) -> dict:
    if not raw:
        return {}
    saved = json.loads(raw)
    if saved and not ({"databricks", "local"} & set(saved)):
        return {"databricks": saved}  # a cursor from before the local engine was observed
    return saved
