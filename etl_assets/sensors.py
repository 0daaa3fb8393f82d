"""Sensors that make the graph run by itself: new landing files, and alerts on failed runs."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from dagster import (
    AssetKey,
    DagsterEventType,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from etl_assets.config import ProjectConfig
from etl_assets.engines import selected_engine_name
from etl_assets.graph import TableGraph
from etl_assets.local.home import LocalHome

WEBHOOK_ENV_VAR = "ETL_ASSETS_ALERT_WEBHOOK_URL"
DAGSTER_URL_ENV_VAR = "ETL_ASSETS_DAGSTER_URL"
LANDING_SENSOR = "landing_files"


def landing_files(folder: Path) -> list[str]:
    """Data files under a landing folder (hidden and temporary files are not data yet)."""
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and not p.name.startswith((".", "_")))


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
            description="Refreshes the bronze tables whose landing folder received new files")
    def landing(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        engine = selected_engine_name()
        if engine != "local":
            return SkipReason(f"the landing sensor watches the local landing folder; with ETL_ASSETS_ENGINE={engine} "
                              "watching a workspace volume is not implemented yet, so nothing is requested")
        seen: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
        landing_root = LocalHome.for_project(config.root).landing
        requests, cursor = [], {}
        for path, tables in readers.items():
            files = landing_files(landing_root / path)
            new = sorted(set(files) - set(seen.get(path, [])))
            cursor[path] = files
            if not new:
                continue
            refresh_downstream = any(config.table(t).source.refresh_downstream for t in tables)
            selected = graph.downstream_closure(tables) if refresh_downstream else tables
            requests.append(RunRequest(
                run_key=f"{path}:{new[0]}:{new[-1]}:{len(new)}",
                asset_selection=[keys[t] for t in selected],
                tags={"etl_assets/landing": path, "etl_assets/new_files": str(len(new))},
            ))
            context.log.info(f"{len(new)} new file(s) in landing/{path}: refreshing {', '.join(selected)}")
        if not requests:
            return SkipReason("no new landing files")
        return SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

    return landing


def alert_payload(context: RunFailureSensorContext) -> dict:
    """The JSON posted for a failed run: run, failed assets, first error line, a link."""
    run = context.dagster_run
    failures = context.get_step_failure_events()
    first_error = ""
    for event in failures:
        error = event.step_failure_data.error if event.step_failure_data else None
        if error is not None:
            text = (error.cause.message if error.cause else error.message) or error.message
            first_error = next((line for line in text.splitlines() if line.strip()), "")
            break
    if not first_error:
        first_error = (context.failure_event.message or "").splitlines()[0] if context.failure_event.message else ""
    failed_steps = sorted({e.step_key for e in failures if e.step_key})
    assets = sorted(k.to_user_string() for k in _unmaterialized_assets(context))
    base = os.environ.get(DAGSTER_URL_ENV_VAR, "http://localhost:3000").rstrip("/")
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "failed_steps": failed_steps,
        "failed_assets": assets,
        "error": first_error,
        "url": f"{base}/runs/{run.run_id}",
    }


def _unmaterialized_assets(context: RunFailureSensorContext) -> set[AssetKey]:
    """Assets the run planned to materialize and did not."""

    def keys(event_type: DagsterEventType) -> set[AssetKey]:
        records = context.instance.get_records_for_run(run_id=context.dagster_run.run_id, of_type=event_type).records
        return {r.event_log_entry.dagster_event.asset_key for r in records if r.event_log_entry.dagster_event}

    return keys(DagsterEventType.ASSET_MATERIALIZATION_PLANNED) - keys(DagsterEventType.ASSET_MATERIALIZATION)


@run_failure_sensor(name="failure_alerts", default_status=DefaultSensorStatus.RUNNING,
                    description=f"Posts a JSON alert for each failed run to ${WEBHOOK_ENV_VAR} when it is set")
def failure_alerts(context: RunFailureSensorContext) -> None:
    url = os.environ.get(WEBHOOK_ENV_VAR)
    if not url:
        return
    payload = alert_payload(context)
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            context.log.info(f"alert for run {payload['run_id']} posted (HTTP {response.status})")
    except (urllib.error.URLError, OSError) as exc:
        # A dead webhook must not stop the sensor: the next failures are still worth sending.
        context.log.warning(f"could not post the alert for run {payload['run_id']}: {exc}")
