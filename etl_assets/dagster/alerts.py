"""Alerts on failed runs: a JSON message posted to a webhook from the environment."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from dagster import (
    AssetKey,
    DagsterEventType,
    DefaultSensorStatus,
    RunFailureSensorContext,
    run_failure_sensor,
)

WEBHOOK_ENV_VAR = "ETL_ASSETS_ALERT_WEBHOOK_URL"
DAGSTER_URL_ENV_VAR = "ETL_ASSETS_DAGSTER_URL"


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
        events = (r.event_log_entry.dagster_event for r in records)
        return {e.asset_key for e in events if e and e.asset_key}

    return keys(DagsterEventType.ASSET_MATERIALIZATION_PLANNED) - keys(DagsterEventType.ASSET_MATERIALIZATION)


@run_failure_sensor(name="failure_alerts", default_status=DefaultSensorStatus.RUNNING,
                    description=f"Posts a JSON alert for each failed run to ${WEBHOOK_ENV_VAR} when it is set")
def failure_alerts(context: RunFailureSensorContext) -> None:
    """Post the failed run's `alert_payload` as JSON to $ETL_ASSETS_ALERT_WEBHOOK_URL when it is set.

    A webhook that cannot be reached is logged, not raised, so later failures are still sent.
    """
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
