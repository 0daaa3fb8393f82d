"""Schedules and automation conditions from the config, evaluated on a real instance."""

from __future__ import annotations

import pytest
from dagster import AssetKey, AutomationCondition, build_schedule_context, instance_for_test

from etl_assets.dagster.definitions import build_definitions
from etl_assets.errors import ConfigError
from tests.conftest import scenario

SHOP = scenario("shop")


@pytest.fixture(scope="module")
def repo():
    return build_definitions(SHOP).get_repository_def()


def names(keys) -> set[str]:
    return {k.path[-1] for k in keys}


def test_schedules_from_config_request_their_selection(repo):
    assert {s.name for s in repo.schedule_defs} == {"daily_critical", "hourly", "weekly_gold"}
    schedule = repo.get_schedule_def("daily_critical")
    assert schedule.cron_schedule == "0 6 * * *"
    with instance_for_test() as instance:
        result = schedule.evaluate_tick(build_schedule_context(instance=instance, repository_def=repo))
    (request,) = result.run_requests
    assert names(request.asset_selection) == {"customers_cdc_bronze", "customers_cdc_clean", "customers",
                                              "orders_bronze", "orders_silver"}
    assert request.tags["etl_assets/schedule"] == "daily_critical"
    assert repo.get_schedule_def("weekly_gold").execution_timezone == "Europe/Paris"


def test_full_refresh_schedule_sets_run_config_for_each_pipeline_step(project):
    path = project("""
        pipelines: {a: {}, b: {}}
        schedules:
          - {name: rebuild, cron: "0 1 * * 0", selection: "tag:x", full_refresh: true}
        tables:
          - {name: a_raw, layer: bronze, pipeline: a, tags: [x]}
          - {name: b_raw, layer: bronze, pipeline: b}
    """)
    repo = build_definitions(path).get_repository_def()
    with instance_for_test() as instance:
        result = repo.get_schedule_def("rebuild").evaluate_tick(build_schedule_context(instance=instance, repository_def=repo))
    assert result.run_requests[0].run_config == {"ops": {"a": {"config": {"full_refresh": True}}}}


@pytest.mark.parametrize(
    ("cron", "selection", "message"),
    [
        ("61 * * * *", "tag:daily", "invalid cron '61 * * * *'"),
        ("0 6 * * *", "owner:x and ((tag:daily", "selection 'owner:x and ((tag:daily' has an unclosed parenthesis"),
        ("0 6 * * *", "colour:blue", "selection 'colour:blue' does not parse"),
    ],
)
def test_bad_schedule_is_a_config_error_at_load(project, cron, selection, message):
    path = project(f"""
        schedules:
          - {{name: s, cron: "{cron}", selection: "{selection}"}}
        tables:
          - {{name: raw, layer: bronze, tags: [daily]}}
    """)
    with pytest.raises(ConfigError) as info:
        build_definitions(path)
    (problem,) = info.value.problems
    assert message in str(problem)
    assert str(problem).startswith("config.yml:2: schedule 's':")


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


def test_schedule_names_from_config_are_listed(local_home):
    repo = build_definitions(SHOP).get_repository_def()
    assert {s.name for s in repo.schedule_defs} == {"daily_critical", "hourly", "weekly_gold"}
    assert {s.name for s in repo.sensor_defs} == {"failure_alerts", "landing_files", "pipeline_observer"}


def test_the_ui_is_told_each_schedules_target_assets_without_a_job_per_schedule(repo):
    from dagster._core.remote_representation.external_data import ScheduleSnap

    snap = ScheduleSnap.from_def(repo.get_schedule_def("weekly_gold"), repo)
    assert names(snap.asset_selection.resolve(repo.asset_graph)) == {"customers_history_agg"}
    assert snap.job_name == "__ASSET_JOB"
    assert [job.name for job in repo.get_all_jobs()] == ["__ASSET_JOB"]
