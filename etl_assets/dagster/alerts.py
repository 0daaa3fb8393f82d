"""Alerts: a JSON message posted to a webhook when a run fails or a table goes stale.

The webhook and the UI's address are `Alerts` settings, given to `build_definitions`; the
default code location reads them from $ETL_ASSETS_ALERT_WEBHOOK_URL and $ETL_ASSETS_DAGSTER_URL.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from dagster import (
    AssetKey,
    DagsterEventType,
    DefaultSensorStatus,
    RunFailureSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    run_failure_sensor,
    sensor,
)

WEBHOOK_ENV_VAR = "ETL_ASSETS_ALERT_WEBHOOK_URL"
DAGSTER_URL_ENV_VAR = "ETL_ASSETS_DAGSTER_URL"
FAILURE_ALERTS = "failure_alerts"
FRESHNESS_ALERTS = "freshness_alerts"


@dataclass(frozen=True)
class Alerts:
    """Where alerts go.

    Args:
        webhook_url: the address each alert is POSTed to as JSON; None sends nothing.
        dagster_url: the UI's address, for the links in each alert.

    >>> Alerts.from_env({"ETL_ASSETS_ALERT_WEBHOOK_URL": "https://hooks.example/x"})
    Alerts(webhook_url='https://hooks.example/x', dagster_url='http://localhost:3000')
    """

    webhook_url: str | None = None
    dagster_url: str = "http://localhost:3000"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Alerts:
        """From $ETL_ASSETS_ALERT_WEBHOOK_URL and $ETL_ASSETS_DAGSTER_URL of `environ`."""
        return cls(environ.get(WEBHOOK_ENV_VAR, "").strip() or None,
                   (environ.get(DAGSTER_URL_ENV_VAR, "").strip() or cls.dagster_url).rstrip("/"))

    def post(self, payload: dict[str, Any], log: Any, what: str) -> None:
        """POST `payload`; a webhook that cannot be reached is logged, not raised, so later
        alerts are still sent."""
        if not self.webhook_url:
            return
        request = urllib.request.Request(self.webhook_url, data=json.dumps(payload).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                log.info(f"alert for {what} posted (HTTP {response.status})")
        except (urllib.error.URLError, OSError) as exc:
            log.warning(f"could not post the alert for {what}: {exc}")


def alert_payload(context: RunFailureSensorContext, dagster_url: str = Alerts.dagster_url) -> dict:
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
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "failed_steps": failed_steps,
        "failed_assets": assets,
        "error": first_error,
        "url": f"{dagster_url.rstrip('/')}/runs/{run.run_id}",
    }


def _unmaterialized_assets(context: RunFailureSensorContext) -> set[AssetKey]:
    """Assets the run planned to materialize and did not."""

    def keys(event_type: DagsterEventType) -> set[AssetKey]:
        records = context.instance.get_records_for_run(run_id=context.dagster_run.run_id, of_type=event_type).records
        events = (r.event_log_entry.dagster_event for r in records)
        return {e.asset_key for e in events if e and e.asset_key}

    return keys(DagsterEventType.ASSET_MATERIALIZATION_PLANNED) - keys(DagsterEventType.ASSET_MATERIALIZATION)


def build_failure_alerts(alerts: Alerts) -> SensorDefinition:
    """A sensor posting each failed run's `alert_payload` to `alerts.webhook_url`."""

    @run_failure_sensor(name=FAILURE_ALERTS, default_status=DefaultSensorStatus.RUNNING,
                        description="Posts a JSON alert for each failed run to the alerts webhook when one is set")
    def failure_alerts(context: RunFailureSensorContext) -> None:
        if alerts.webhook_url:
            payload = alert_payload(context, alerts.dagster_url)
            alerts.post(payload, context.log, f"run {payload['run_id']}")

    return failure_alerts


def freshness_state(last_update: float | None, now: float, fail_after: timedelta,
                    warn_after: timedelta | None) -> str:
    """PASS, WARN or FAIL for a table last updated at `last_update` (None: never), as Dagster's
    time-window freshness policy judges it.

    >>> freshness_state(0.0, 7200.0, timedelta(hours=1), None)
    'FAIL'
    """
    age = None if last_update is None else now - last_update
    if age is None or age > fail_after.total_seconds():
        return "FAIL"
    if warn_after is not None and age > warn_after.total_seconds():
        return "WARN"
    return "PASS"


def build_freshness_alerts(limits: Mapping[AssetKey, tuple[timedelta, timedelta | None]],
                           alerts: Alerts) -> SensorDefinition:
    """A sensor judging each table with a freshness limit by its last update (a run's, or a
    refresh the pipeline observer reported) and posting one alert per tick listing the tables
    that turned WARN or FAIL since the last one; the cursor keeps each table's last state."""

    @sensor(name=FRESHNESS_ALERTS, minimum_interval_seconds=300, default_status=DefaultSensorStatus.RUNNING,
            description="Posts a JSON alert to the alerts webhook when a table with a freshness limit goes stale")
    def freshness_alerts(context: SensorEvaluationContext) -> SensorResult:
        before: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        latest = context.instance.get_latest_materialization_events(list(limits))
        now = time.time()
        states, stale = {}, []
        for key, (fail_after, warn_after) in limits.items():
            event = latest.get(key)
            last = event.timestamp if event is not None else None
            name = key.to_user_string()
            states[name] = freshness_state(last, now, fail_after, warn_after)
            if states[name] != "PASS" and states[name] != before.get(name):
                stale.append({"asset": name, "state": states[name], "last_update": last,
                              "fail_after_seconds": int(fail_after.total_seconds()),
                              "url": f"{alerts.dagster_url}/assets/{'/'.join(key.path)}"})
        cursor = json.dumps(states, sort_keys=True)
        if not stale:
            return SensorResult(skip_reason="no table went stale since the last tick", cursor=cursor)
        context.log.warning("stale: " + ", ".join(f"{s['asset']} ({s['state']})" for s in stale))
        alerts.post({"kind": "freshness", "stale": stale}, context.log, f"{len(stale)} stale table(s)")
        return SensorResult(cursor=cursor)

    return freshness_alerts
