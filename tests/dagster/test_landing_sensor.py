"""The landing sensor on Databricks: volume folders listed with the real SDK's Files API
against the fake workspace on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from dagster import instance_for_test

from etl_assets.dagster.definitions import build_definitions
from etl_assets.dagster.landing_sensor import WINDOW_MS, new_files
from etl_assets.dagster.resources import DatabricksPipelinesResource
from tests.conftest import REPO, tick_sensor
from tests.engines.databricks.test_databricks_engine import FAST, fake  # noqa: F401  (the fake workspace fixture)
from tests.support.fake_databricks import LANDING_VOLUME


def tick(instance, cursor=None, config=REPO / "config.yml", engine=None):
    repo = build_definitions(config, engine=engine or DatabricksPipelinesResource(**FAST)).get_repository_def()
    return tick_sensor(repo, "landing_files", instance, cursor)


def requested(result) -> dict[str, tuple[set[str], str]]:
    return {r.tags["etl_assets/landing"]: ({k.path[-1] for k in r.asset_selection}, r.tags["etl_assets/new_files"])
            for r in result.run_requests}


def test_new_files_in_the_volume_trigger_once(fake):  # noqa: F811
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


def test_the_volume_is_the_one_the_deployed_pipeline_reads(fake):  # noqa: F811
    fake.pipelines[fake.orders]["spec"]["configuration"]["etl_assets.landing_path"] = "/Volumes/prod/sales/raw"
    fake.put_file("/Volumes/prod/sales/raw/orders/a.json")
    fake.put_file(f"{LANDING_VOLUME}/orders/elsewhere.json")
    with instance_for_test() as instance:
        result = tick(instance)
    assert requested(result) == {"orders": ({"orders_bronze"}, "1")}


def test_the_resource_can_name_the_volume(fake):  # noqa: F811
    fake.put_file("/Volumes/dev/me/landing/customers/a.json")
    fake.put_file("/Volumes/dev/me/landing/customers/b.json")
    with instance_for_test() as instance:
        result = tick(instance, engine=DatabricksPipelinesResource(**FAST, landing_volume="/Volumes/dev/me/landing"))
    assert requested(result) == {"customers": ({"customers_cdc_bronze"}, "2")}


def test_a_missing_volume_is_an_error_that_says_what_to_do(fake):  # noqa: F811
    with instance_for_test() as instance, pytest.raises(Exception) as error:
        tick(instance)
    text = str(error.value)
    assert f"the landing volume {LANDING_VOLUME} does not exist" in text and "landing_volume" in text


def test_a_pipeline_without_a_landing_path_is_an_error(fake):  # noqa: F811
    fake.pipelines[fake.cdc]["spec"]["configuration"] = {}
    with instance_for_test() as instance, pytest.raises(Exception) as error:
        tick(instance)
    assert "pipeline 'etl_assets_customers_cdc' has no `etl_assets.landing_path`" in str(error.value)


def test_refused_credentials_name_their_source_not_the_token(fake):  # noqa: F811
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
