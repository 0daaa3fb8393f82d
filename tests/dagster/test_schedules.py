"""Schedules and automation conditions from the config, evaluated on a real instance."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    Definitions,
    FreshnessPolicy,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from etl_assets.dagster.definitions import build_definitions
from etl_assets.errors import ConfigError
from tests.conftest import scenario

SHOP = scenario("shop")


@pytest.fixture(scope="module")
def repo():
    return build_definitions(SHOP).get_repository_def()


def names(keys) -> set[str]:
    return {k.path[-1] for k in keys}


def test_schedules_from_config_run_a_job_of_their_selection(repo):
    assert {s.name for s in repo.schedule_defs} == {"daily_critical", "hourly", "weekly_gold"}
    schedule = repo.get_schedule_def("daily_critical")
    assert schedule.cron_schedule == "0 6 * * *"
    with instance_for_test() as instance:
        result = schedule.evaluate_tick(build_schedule_context(instance=instance, repository_def=repo))
    (request,) = result.run_requests
    assert request.tags["etl_assets/schedule"] == "daily_critical"
    # The schedule's own job holds its selection: what the UI lists on the schedule's and assets' pages.
    job = repo.get_job(schedule.job_name)
    assert names(job.asset_layer.selected_asset_keys) == {"customers_cdc_bronze", "customers_cdc_clean", "customers",
                                                          "orders_bronze", "orders_silver"}
    assert repo.get_schedule_def("weekly_gold").execution_timezone == "Europe/Paris"


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


def test_past_the_size_limit_schedules_name_their_assets_at_each_tick():
    repo = build_definitions(SHOP, job_per_schedule=False).get_repository_def()
    schedule = repo.get_schedule_def("daily_critical")
    assert [job.name for job in repo.get_all_jobs()] == ["__ASSET_JOB"]  # no job built per schedule
    with instance_for_test() as instance:
        result = schedule.evaluate_tick(build_schedule_context(instance=instance, repository_def=repo))
    (request,) = result.run_requests
    assert names(request.asset_selection) == {"customers_cdc_bronze", "customers_cdc_clean", "customers",
                                              "orders_bronze", "orders_silver"}
    assert request.tags["etl_assets/schedule"] == "daily_critical"


@pytest.mark.parametrize("job_per_schedule", [None, True, False])
def test_full_refresh_schedule_sets_run_config_for_each_pipeline_step(project, job_per_schedule):
    # None: the default for the project's size; True and False: a job per schedule or none.
    path = project("""
        pipelines: {a: {}, b: {}}
        schedules:
          - {name: rebuild, cron: "0 1 * * 0", selection: "tag:x", full_refresh: true}
        tables:
          - {name: a_raw, layer: bronze, pipeline: a, tags: [x]}
          - {name: b_raw, layer: bronze, pipeline: b}
    """)
    repo = build_definitions(path, job_per_schedule=job_per_schedule).get_repository_def()
    with instance_for_test() as instance:
        result = repo.get_schedule_def("rebuild").evaluate_tick(build_schedule_context(instance=instance, repository_def=repo))
    assert result.run_requests[0].run_config == {"ops": {"a": {"config": {"full_refresh": True}}}}


def test_each_schedule_has_a_job_of_its_own(repo):
    jobs = {s.name: s.job_name for s in repo.schedule_defs}
    assert len(set(jobs.values())) == 3
    assert names(repo.get_job(jobs["weekly_gold"]).asset_layer.selected_asset_keys) == {"customers_history_agg"}


def test_automation_by_selection_and_the_tables_own_setting_wins(project):
    path = project("""
        automation:
          - {selection: "tag:fast and not group:gold", condition: eager}
          - {selection: "group:gold", condition: {on_cron: "0 6 * * *"}}
        tables:
          - {name: raw, layer: bronze}
          - {name: clean, layer: silver, depends_on: [raw], tags: [fast]}
          - {name: own, layer: silver, depends_on: [raw], tags: [fast], automation: on_missing}
          - {name: report, layer: gold, depends_on: [clean], tags: [fast]}
    """)
    graph = build_definitions(path).resolve_asset_graph()
    assert graph.get(AssetKey("raw")).automation_condition is None
    assert graph.get(AssetKey("clean")).automation_condition == AutomationCondition.eager()
    assert graph.get(AssetKey("own")).automation_condition == AutomationCondition.on_missing()
    assert graph.get(AssetKey("report")).automation_condition == AutomationCondition.on_cron("0 6 * * *", "UTC")


def test_freshness_per_table_and_by_selection(project):
    path = project("""
        freshness:
          - {selection: "tag:critical", fail_after: 26h, warn_after: 12h}
        tables:
          - {name: raw, layer: bronze, tags: [critical]}
          - {name: clean, layer: silver, depends_on: [raw], tags: [critical], freshness: {fail_after: 30m}}
          - {name: other, layer: silver, depends_on: [raw]}
    """)
    graph = build_definitions(path).resolve_asset_graph()
    assert graph.get(AssetKey("raw")).freshness_policy == FreshnessPolicy.time_window(
        fail_window=timedelta(hours=26), warn_window=timedelta(hours=12))
    assert graph.get(AssetKey("clean")).freshness_policy == FreshnessPolicy.time_window(fail_window=timedelta(minutes=30))
    assert graph.get(AssetKey("other")).freshness_policy is None


def test_eager_tables_of_one_pipeline_refreshed_outside_dagster_make_one_update(project):
    """A refresh the observer reports (a runless materialization) is an update for eager tables
    downstream; the eager tables of one pipeline go in one run, so one step and one update."""
    path = project("""
        pipelines: {ingest: {}, shop: {}, finance: {}}
        automation:
          - {selection: "tag:eager", condition: eager}
        tables:
          - {name: raw, layer: bronze, pipeline: ingest}
          - {name: orders, layer: silver, pipeline: shop, depends_on: [raw], tags: [eager]}
          - {name: returns, layer: silver, pipeline: shop, depends_on: [raw], tags: [eager]}
          - {name: revenue, layer: gold, pipeline: finance, depends_on: [raw], tags: [eager]}
    """)
    # The automation sensor evaluated in this process, as the daemon's default one would.
    sensor = AutomationConditionSensorDefinition("automation", target=AssetSelection.all(), use_user_code_server=True)
    defs = Definitions.merge(build_definitions(path), Definitions(sensors=[sensor]))
    repo = defs.get_repository_def()
    with instance_for_test() as instance:
        first = sensor(build_sensor_context(instance=instance, repository_def=repo))
        assert first.run_requests == []  # raw has never been refreshed
        instance.report_runless_asset_event(AssetMaterialization(asset_key="raw", metadata={"observed": True}))
        second = sensor(build_sensor_context(instance=instance, repository_def=repo, cursor=first.cursor))
    (request,) = second.run_requests
    assert names(request.asset_selection) == {"orders", "returns", "revenue"}
    plan = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(request.asset_selection))
    assert sorted(node.name for node in plan.graph.nodes) == ["finance", "shop"]  # one step per pipeline


def test_validate_judges_every_selection_on_the_asset_graph(project):
    """`etl-assets validate` asks `check_schedules` with the asset graph: automation and freshness
    selections that match no table are problems, as a schedule's are."""
    from etl_assets.dagster.schedules import check_schedules
    from etl_assets.project.load import load_config

    path = project("""
        schedules:
          - {name: s, cron: "0 6 * * *", selection: "tag:daily"}
        automation:
          - {selection: "tag:nightly", condition: eager}
        freshness:
          - {selection: "group:gold", fail_after: 1d}
        tables:
          - {name: raw, layer: bronze, tags: [daily]}
    """)
    config = load_config(path)
    graph = build_definitions(config).resolve_asset_graph()
    found = [str(p) for p in check_schedules(config, graph)]
    assert found == ["config.yml:4: automation 'tag:nightly': selection 'tag:nightly' matches no table"
                     " (hint: check the tag, group or key names against config.yml)",
                     "config.yml:6: freshness 'group:gold': selection 'group:gold' matches no table"
                     " (hint: check the tag, group or key names against config.yml)"]
