"""Failure alerts: a failed run posts JSON to the configured webhook on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dagster import (
    AssetMaterialization,
    DagsterEventType,
    asset,
    build_run_status_sensor_context,
    build_sensor_context,
    instance_for_test,
    materialize,
)

from etl_assets.dagster.alerts import Alerts, build_failure_alerts, freshness_state
from etl_assets.dagster.definitions import build_definitions


class _Webhook:
    def __init__(self) -> None:
        self.received: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@asset
def broken_table() -> None:
    raise RuntimeError("the warehouse is on fire\nsecond line")


def failure_context(instance):
    result = materialize([broken_table], instance=instance, raise_on_error=False)
    run = instance.get_run_by_id(result.run_id)
    event = next(e for e in instance.all_logs(result.run_id, of_type=DagsterEventType.RUN_FAILURE))
    return result, build_run_status_sensor_context(
        sensor_name="failure_alerts", dagster_instance=instance, dagster_run=run, dagster_event=event.dagster_event,
    ).for_run_failure()


def test_failure_alert_posts_json_to_the_webhook(monkeypatch):
    hook = _Webhook()
    failure_alerts = build_failure_alerts(Alerts.from_env({"ETL_ASSETS_ALERT_WEBHOOK_URL": hook.url,
                                                           "ETL_ASSETS_DAGSTER_URL": "http://dagster.example:3000"}))
    with instance_for_test() as instance:
        result, context = failure_context(instance)
        failure_alerts(context)
    hook.server.shutdown()
    (payload,) = hook.received
    assert payload["run_id"] == result.run_id
    assert payload["failed_assets"] == ["broken_table"]
    assert payload["error"].endswith("the warehouse is on fire")
    assert payload["url"] == f"http://dagster.example:3000/runs/{result.run_id}"


def test_a_dead_webhook_does_not_break_the_sensor(monkeypatch):
    hook = _Webhook()
    hook.server.shutdown()
    hook.server.server_close()
    failure_alerts = build_failure_alerts(Alerts(hook.url))
    with instance_for_test() as instance:
        _, context = failure_context(instance)
        failure_alerts(context)  # logs a warning, raises nothing
    assert hook.received == []


def test_no_webhook_configured_sends_nothing(monkeypatch):
    monkeypatch.setenv("ETL_ASSETS_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/ignored")  # only the code location reads it
    with instance_for_test() as instance:
        _, context = failure_context(instance)
        assert build_failure_alerts(Alerts())(context) is None


def test_a_table_going_stale_posts_one_freshness_alert(project):
    hook = _Webhook()
    path = project("""
        freshness:
          - {selection: "tag:critical", fail_after: 2h, warn_after: 1h}
        tables:
          - {name: raw, layer: bronze, tags: [critical]}
          - {name: clean, layer: silver, depends_on: [raw], tags: [critical]}
          - {name: other, layer: silver, depends_on: [raw]}
    """)
    repo = build_definitions(path, alerts=Alerts(hook.url)).get_repository_def()
    sensor = repo.get_sensor_def("freshness_alerts")
    with instance_for_test() as instance:
        instance.report_runless_asset_event(AssetMaterialization(asset_key="raw"))  # fresh; clean never updated
        first = sensor(build_sensor_context(instance=instance, repository_def=repo))
        again = sensor(build_sensor_context(instance=instance, repository_def=repo, cursor=first.cursor))
    (alert,) = hook.received
    assert alert["kind"] == "freshness"
    assert [(s["asset"], s["state"]) for s in alert["stale"]] == [("clean", "FAIL")]
    assert alert["stale"][0]["fail_after_seconds"] == 7200
    assert again.skip_reason is not None  # still stale, already said


def test_freshness_states_follow_dagsters_time_window():
    hour = 3600.0
    fail, warn = timedelta(hours=2), timedelta(hours=1)
    assert freshness_state(None, 10 * hour, fail, warn) == "FAIL"  # never updated
    assert freshness_state(9.5 * hour, 10 * hour, fail, warn) == "PASS"
    assert freshness_state(8.5 * hour, 10 * hour, fail, warn) == "WARN"
    assert freshness_state(7.5 * hour, 10 * hour, fail, warn) == "FAIL"
    assert freshness_state(8.5 * hour, 10 * hour, fail, None) == "PASS"

