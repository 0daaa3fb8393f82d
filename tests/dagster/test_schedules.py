"""Schedules' automation conditions, the landing sensor and failure alerts, on a real instance."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import (
    AssetKey,
    AutomationCondition,
    DagsterEventType,
    asset,
    build_run_status_sensor_context,
    instance_for_test,
    materialize,
)

from etl_assets.dagster.alerts import failure_alerts
from etl_assets.dagster.definitions import build_definitions
from etl_assets.errors import ConfigError
from etl_assets.example.datagen import generate
from tests.conftest import REPO, tick_sensor


def tick(repo, instance, cursor=None):
    return tick_sensor(repo, "landing_files", instance, cursor)


def test_landing_sensor_triggers_once_per_new_file(local_home):
    repo = build_definitions(REPO / "config.yml").get_repository_def()
    with instance_for_test() as instance:
        first = tick(repo, instance)
        assert first.run_requests == [] and "no new landing files" in first.skip_message
        generate(local_home.landing, rows=20, seed=1)
        second = tick(repo, instance, first.cursor)
        selections = {r.tags["etl_assets/landing"]: {k.path[-1] for k in r.asset_selection} for r in second.run_requests}
        assert selections == {"customers": {"customers_cdc_bronze"}, "orders": {"orders_bronze"}}
        third = tick(repo, instance, second.cursor)
        assert third.run_requests == []
        generate(local_home.landing, rows=20, seed=1, datasets=("orders",))
        fourth = tick(repo, instance, third.cursor)
        assert [r.tags["etl_assets/landing"] for r in fourth.run_requests] == ["orders"]
        assert fourth.run_requests[0].run_key != second.run_requests[1].run_key


def test_landing_sensor_can_refresh_downstream(local_home, project):
    path = project("""
        tables:
          - {name: raw, layer: bronze, source: {path: things, refresh_downstream: true}}
          - {name: clean, layer: silver, depends_on: [raw]}
    """)
    (local_home.landing / "things").mkdir(parents=True)
    (local_home.landing / "things" / "a.json").write_text("{}\n")
    (local_home.landing / "things" / ".b.json.tmp").write_text("{}\n")  # not landed yet
    repo = build_definitions(path).get_repository_def()
    with instance_for_test() as instance:
        (request,) = tick(repo, instance).run_requests
    assert {k.path[-1] for k in request.asset_selection} == {"raw", "clean"}
    assert request.tags["etl_assets/new_files"] == "1"


def test_a_file_moved_in_with_an_old_modification_time_still_counts(local_home):
    repo = build_definitions(REPO / "config.yml").get_repository_def()
    folder = local_home.landing / "orders"
    folder.mkdir(parents=True)
    (folder / "first.json").write_text("{}\n")
    with instance_for_test() as instance:
        first = tick(repo, instance)
        assert len(first.run_requests) == 1
        moved = folder / "old.json"
        moved.write_text("{}\n")
        two_days_ago = time.time() - 2 * 86400
        os.utime(moved, (two_days_ago, two_days_ago))  # as `mv` or `cp -p` of an old file leaves it
        second = tick(repo, instance, first.cursor)
    assert [r.tags["etl_assets/new_files"] for r in second.run_requests] == ["1"]


def test_automation_conditions_from_config(project):
    path = project("""
        tables:
          - {name: raw, layer: bronze}
          - {name: clean, layer: silver, depends_on: [raw], automation: eager}
          - {name: daily, layer: gold, depends_on: [clean], automation: {on_cron: "0 6 * * *", timezone: Europe/Paris}}
    """)
    graph = build_definitions(path).resolve_asset_graph()
    assert graph.get(AssetKey("raw")).automation_condition is None
    assert graph.get(AssetKey("clean")).automation_condition == AutomationCondition.eager()
    assert graph.get(AssetKey("daily")).automation_condition == AutomationCondition.on_cron("0 6 * * *", "Europe/Paris")


@pytest.mark.parametrize(("value", "message"), [
    ("sometimes", "'automation' should be 'eager' or 'on_missing'"),
    ('{on_cron: "99 * * * *"}', "automation: invalid cron '99 * * * *'"),
])
def test_bad_automation_is_a_config_error(project, value, message):
    path = project(f"tables:\n  - {{name: raw, layer: bronze, automation: {value}}}\n")
    with pytest.raises(ConfigError) as info:
        build_definitions(path)
    assert message in str(info.value)


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
    monkeypatch.setenv("ETL_ASSETS_ALERT_WEBHOOK_URL", hook.url)
    monkeypatch.setenv("ETL_ASSETS_DAGSTER_URL", "http://dagster.example:3000")
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
    monkeypatch.setenv("ETL_ASSETS_ALERT_WEBHOOK_URL", hook.url)
    with instance_for_test() as instance:
        _, context = failure_context(instance)
        failure_alerts(context)  # logs a warning, raises nothing
    assert hook.received == []


def test_no_webhook_configured_sends_nothing(monkeypatch):
    with instance_for_test() as instance:
        _, context = failure_context(instance)
        assert failure_alerts(context) is None


def test_schedule_names_from_config_are_listed(local_home):
    repo = build_definitions(REPO / "config.yml").get_repository_def()
    assert {s.name for s in repo.schedule_defs} == {"daily_critical", "hourly", "weekly_gold"}
    assert {s.name for s in repo.sensor_defs} == {"failure_alerts", "landing_files", "pipeline_observer"}
