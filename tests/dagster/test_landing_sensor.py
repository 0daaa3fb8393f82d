"""The landing sensor: new files in the local landing folder, and on Databricks volume folders
listed with the real SDK's Files API against the fake workspace on 127.0.0.1."""

from __future__ import annotations

import json
import os
import time

import pytest
from dagster import instance_for_test

from etl_assets.dagster.definitions import build_definitions
from etl_assets.dagster.landing_sensor import WINDOW_MS, new_files
from etl_assets.dagster.resources import DatabricksPipelinesResource
from etl_assets.example.datagen import generate
from tests.conftest import local_resource, scenario, tick_sensor
from tests.support.fake_databricks import FAST, LANDING_VOLUME

SHOP = scenario("shop")


def tick(instance, cursor=None, config=SHOP, engine=None):
    repo = build_definitions(config, engine=engine or DatabricksPipelinesResource(**FAST)).get_repository_def()
    return tick_sensor(repo, "landing_files", instance, cursor)


def requested(result) -> dict[str, tuple[set[str], str]]:
    return {r.tags["etl_assets/landing"]: ({k.path[-1] for k in r.asset_selection}, r.tags["etl_assets/new_files"])
            for r in result.run_requests}


def test_new_files_in_the_volume_trigger_once(fake):
    fake.directories.add(LANDING_VOLUME)
    fake.directory_page_size = 2  # listings come in several pages
    with instance_for_test() as instance:
        empty = tick(instance)
        assert empty.run_requests == [] and "no new landing files" in empty.skip_message
        for day in ("2026-11-22", "2026-11-23"):
            for n in range(3):
                fake.put_file(f"{LANDING_VOLUME}/orders/{day}/part-{n}.json")
        fake.put_file(f"{LANDING_VOLUME}/orders/_incoming/part-9.json")  # still being written
        fake.put_file(f"{LANDING_VOLUME}/orders/.part-8.json.tmp")
        first = tick(instance, empty.cursor)
        assert requested(first) == {"orders": ({"orders_bronze"}, "6")}
        again = tick(instance, first.cursor)
        assert again.run_requests == []
        fake.put_file(f"{LANDING_VOLUME}/customers/batch-1.json")
        fake.put_file(f"{LANDING_VOLUME}/orders/2026-11-23/part-3.json")
        second = tick(instance, again.cursor)
        assert requested(second) == {"customers": ({"customers_cdc_bronze"}, "1"), "orders": ({"orders_bronze"}, "1")}
    listed = {path for _, path, _, _ in fake.calls("GET", "/api/2.0/fs/directories")}
    assert f"{LANDING_VOLUME}/orders/_incoming" not in {p.removeprefix("/api/2.0/fs/directories") for p in listed}


def test_the_volume_is_the_one_the_deployed_pipeline_reads(fake):
    fake.pipelines[fake.orders]["spec"]["configuration"]["etl_assets.landing_path"] = "/Volumes/prod/sales/raw"
    fake.put_file("/Volumes/prod/sales/raw/orders/a.json")
    fake.put_file(f"{LANDING_VOLUME}/orders/elsewhere.json")
    with instance_for_test() as instance:
        result = tick(instance)
    assert requested(result) == {"orders": ({"orders_bronze"}, "1")}


def test_the_resource_can_name_the_volume(fake):
    fake.put_file("/Volumes/dev/me/landing/customers/a.json")
    fake.put_file("/Volumes/dev/me/landing/customers/b.json")
    with instance_for_test() as instance:
        result = tick(instance, engine=DatabricksPipelinesResource(**FAST, landing_volume="/Volumes/dev/me/landing"))
    assert requested(result) == {"customers": ({"customers_cdc_bronze"}, "2")}


def test_a_missing_volume_is_an_error_that_says_what_to_do(fake):
    with instance_for_test() as instance, pytest.raises(Exception) as error:
        tick(instance)
    text = str(error.value)
    assert f"the landing volume {LANDING_VOLUME} does not exist" in text and "landing_volume" in text


def test_a_pipeline_without_a_landing_path_is_an_error(fake):
    fake.pipelines[fake.cdc]["spec"]["configuration"] = {}
    with instance_for_test() as instance, pytest.raises(Exception) as error:
        tick(instance)
    assert "pipeline 'etl_assets_customers_cdc' has no `etl_assets.landing_path`" in str(error.value)


def test_refused_credentials_name_their_source_not_the_token(fake):
    fake.directories.add(LANDING_VOLUME)
    fake.fail("/api/2.0/fs/directories", 403)
    with instance_for_test() as instance, pytest.raises(Exception) as error:
        tick(instance)
    assert "refused the credentials" in str(error.value) and fake.token not in str(error.value)


def test_the_cursor_keeps_only_the_last_hour_of_names():
    hour = WINDOW_MS
    minute = hour // 60
    listing = {f"f{n:03d}.json": n * minute for n in range(300)}  # five hours of arrivals
    new, state = new_files(listing, None)
    assert len(new) == 300
    assert len(state["recent"]) == 61 and state["mark"] == 299 * minute
    listing["late.json"] = 299 * minute - 10 * minute  # ten minutes behind the newest: still counts
    listing["f300.json"] = 300 * minute
    new, state = new_files(listing, json.loads(json.dumps(state)))
    assert new == ["f300.json", "late.json"]
    new, _ = new_files(listing, state)
    assert new == []


# -- the local engine: the landing folder of ETL_ASSETS_HOME -----------------------------


def tick_local(repo, instance, cursor=None):
    return tick_sensor(repo, "landing_files", instance, cursor)


def test_landing_sensor_triggers_once_per_new_file(local_home):
    repo = build_definitions(SHOP, engine=local_resource()).get_repository_def()
    with instance_for_test() as instance:
        first = tick_local(repo, instance)
        assert first.run_requests == [] and "no new landing files" in first.skip_message
        generate(local_home.landing, rows=20, seed=1)
        second = tick_local(repo, instance, first.cursor)
        selections = {r.tags["etl_assets/landing"]: {k.path[-1] for k in r.asset_selection} for r in second.run_requests}
        assert selections == {"customers": {"customers_cdc_bronze"}, "orders": {"orders_bronze"}}
        third = tick_local(repo, instance, second.cursor)
        assert third.run_requests == []
        generate(local_home.landing, rows=20, seed=1, datasets=("orders",))
        fourth = tick_local(repo, instance, third.cursor)
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
    repo = build_definitions(path, engine=local_resource()).get_repository_def()
    with instance_for_test() as instance:
        (request,) = tick_local(repo, instance).run_requests
    assert {k.path[-1] for k in request.asset_selection} == {"raw", "clean"}
    assert request.tags["etl_assets/new_files"] == "1"


def test_a_file_moved_in_with_an_old_modification_time_still_counts(local_home):
    repo = build_definitions(SHOP, engine=local_resource()).get_repository_def()
    folder = local_home.landing / "orders"
    folder.mkdir(parents=True)
    (folder / "first.json").write_text("{}\n")
    with instance_for_test() as instance:
        first = tick_local(repo, instance)
        assert len(first.run_requests) == 1
        moved = folder / "old.json"
        moved.write_text("{}\n")
        two_days_ago = time.time() - 2 * 86400
        os.utime(moved, (two_days_ago, two_days_ago))  # as `mv` or `cp -p` of an old file leaves it
        second = tick_local(repo, instance, first.cursor)
    assert [r.tags["etl_assets/new_files"] for r in second.run_requests] == ["1"]


def test_the_sensor_is_listed_under_the_tables_it_requests_only():
    from etl_assets.dagster.definitions import build_definitions
    from tests.conftest import scenario

    repo = build_definitions(scenario("shop")).get_repository_def()
    selection = repo.get_sensor_def("landing_files").asset_selection
    assert selection is not None
    assert {k.path[-1] for k in selection.resolve(repo.asset_graph)} == {"customers_cdc_bronze", "orders_bronze"}
