"""The etl-assets command as a user runs it, and the Dagster CLI on the default code location,
both on scenario projects."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from etl_assets.cli import main
from tests.conftest import REPO, scenario

SHOP = scenario("shop")

BAD_CONFIG = """
    tables:
      - {name: a, layer: silver, depends_on: [c]}
      - {name: b, layer: silver, depends_on: [a], tags: ["nightly run"]}
      - {name: c, layer: silver, depends_on: [b, custmers]}
      - {name: a, layer: silver}
"""


def test_validate_names_every_problem_without_a_traceback(project, capsys):
    path = project(BAD_CONFIG)
    assert main(["validate", "--config", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert err.startswith("Error: 4 problems in config:")
    assert "config.yml:2: table 'a': dependency cycle: a -> c -> b -> a" in err
    assert "config.yml:4: table 'c': depends on 'custmers', which is not a table" in err
    assert "config.yml:5: table 'a': duplicate table name, first defined on line 2" in err
    assert "config.yml:3: table 'b': tag 'nightly run' is not a valid Dagster tag" in err
    assert "Traceback" not in err


def test_validate_checks_schedule_selections_against_the_assets(project, capsys):
    path = project("""
        schedules:
          - {name: nightly, cron: "0 1 * * *", selection: "tag:nightly"}
        tables:
          - {name: raw, layer: bronze, tags: [daily]}
    """)
    assert main(["validate", "--config", str(path)]) == 1
    assert "config.yml:2: schedule 'nightly': selection 'tag:nightly' matches no table" in capsys.readouterr().err


def test_plan_all_prints_stages_in_execution_order(capsys):
    assert main(["plan", "--config", str(SHOP), "--tags", "daily,critical", "--match", "all"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("5 of 8 tables selected by tags daily AND critical")
    stages = [block.split("\n", 1)[1].split() for block in out.split("\n\nStage ")[1:]]
    assert [s[::3] for s in stages][:3] == [["customers_cdc_bronze", "orders_bronze"], ["customers_cdc_clean"],
                                            ["customers"]]
    assert "1. customers_cdc (etl_assets_customers_cdc): refresh_selection = " \
           "[customers_cdc_bronze, customers_cdc_clean, customers]" in out
    assert "2. orders (etl_assets_orders): refresh_selection = [orders_bronze, orders_silver]" in out


def test_plan_any_as_json(capsys):
    assert main(["plan", "--config", str(SHOP), "--tags", "daily,critical", "--match", "any",
                 "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["stages"] == [
        ["customers_cdc_bronze", "orders_bronze"],
        ["customers_cdc_clean"],
        ["customers", "customers_history"],
        ["orders_silver"],
        ["orders_gold"],
    ]
    assert plan["updates"][1] == {"pipeline": "orders", "name": "etl_assets_orders",
                                  "refresh_selection": ["orders_bronze", "orders_silver", "orders_gold"]}


def test_plan_with_upstream_closure(capsys):
    assert main(["plan", "--config", str(SHOP), "--tags", "weekly", "--upstream",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["tables"] == [
        "customers_cdc_bronze", "customers_cdc_clean", "customers_history", "customers_history_agg",
    ]


def test_plan_with_no_match_is_an_error_listing_known_tags(capsys):
    assert main(["plan", "--config", str(SHOP), "--tags", "dayly"]) == 1
    err = capsys.readouterr().err
    assert "no table has tags dayly" in err and "known tags: bronze, critical, daily" in err


def _dagster(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("dagster") or os.path.join(os.path.dirname(sys.executable), "dagster")
    # The default code location, reading the scenario's config.yml from $ETL_ASSETS_CONFIG.
    return subprocess.run([exe, *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore", "ETL_ASSETS_CONFIG": str(SHOP), **env})


@pytest.mark.slow
def test_dagster_definitions_validate_passes():
    result = _dagster("definitions", "validate", "-m", "etl_assets.definitions")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


@pytest.mark.slow
def test_dagster_asset_materialize_tag_daily_on_databricks_without_credentials_fails_clearly(tmp_path):
    result = _dagster("asset", "materialize", "-m", "etl_assets.definitions", "--select", "tag:daily",
                      ETL_ASSETS_ENGINE="databricks", HOME=str(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "no Databricks credentials" in output
    assert ("refresh of 4 table(s): customers_cdc_bronze, customers_cdc_clean, customers, customers_history"
            in output)
    assert "ASSET_MATERIALIZATION" not in output


@pytest.mark.slow
def test_dagster_asset_materialize_tag_daily_runs_the_daily_tables_locally(local_home):
    from etl_assets.example.datagen import generate

    generate(local_home.landing, rows=200, seed=4)
    result = _dagster("asset", "materialize", "-m", "etl_assets.definitions", "--select", "tag:daily")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    materialized = set(re.findall(r"Materialized value (\w+)\.", output))
    assert materialized == {"customers_cdc_bronze", "customers_cdc_clean", "customers", "customers_history",
                            "orders_bronze", "orders_silver", "orders_gold"}
    assert (local_home.warehouse / "orders_gold").exists()
    assert not (local_home.warehouse / "customers_history_agg").exists()


def test_validate_refuses_an_expectation_condition_that_is_not_sql(project, capsys):
    path = project("""
        tables:
          - name: orders_bronze
            layer: bronze
            expectations:
              - {name: valid_id, condition: id IS NOT, action: drop}
    """)
    from etl_assets.cli import main

    assert main(["validate", "--config", str(path)]) == 1
    assert "expectation 'valid_id': condition 'id IS NOT' is not a SQL expression" in capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["show", "numbers_gold", "--limit", "-1"], "-1 is out of range"),
    (["show", "numbers_gold", "--limit", "99999999999999999999"], "is out of range"),
    (["generate-data", "--rows", "0"], "0 is out of range"),
    (["generate-data", "--rows", "-5"], "-5 is out of range"),
])
def test_numbers_out_of_range_are_refused_by_name(argv, expected, capsys):
    with pytest.raises(SystemExit) as info:
        main([*argv, "--config", str(scenario("plain"))])
    assert info.value.code == 2
    assert expected in capsys.readouterr().err


def test_an_unusable_home_is_one_error_line(monkeypatch, capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ETL_ASSETS_HOME", str(blocker / "home"))
    assert main(["generate-data", "--rows", "5", "--config", str(scenario("plain"))]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "Traceback" not in err and str(blocker) in err
