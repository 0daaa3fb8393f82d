"""`etl-assets validate --dry-run`: each pipeline analyzes the selected tables without running them
(on Databricks a validate_only update, against the stand-in workspace)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from etl_assets.cli import main
from tests.conftest import scenario
from tests.support.fake_databricks import FAST, analysis

SHOP = str(scenario("shop"))


def fast(monkeypatch):
    for name, value in FAST.items():
        monkeypatch.setenv(f"ETL_ASSETS_DATABRICKS_{name.upper()}", str(value))


def test_a_dry_run_asks_for_a_validate_only_update_of_the_selection(fake, monkeypatch, capsys):
    fast(monkeypatch)
    fake.scripts[fake.orders] = analysis({})
    assert main(["validate", "--config", SHOP, "--dry-run", "--engine", "databricks",
                 "--select", "orders_bronze,orders_silver"]) == 0
    (start,) = [body for _, path, _, body in fake.calls("POST", "/updates")]
    assert start == {"refresh_selection": ["orders_bronze", "orders_silver"], "validate_only": True}
    assert "pipeline 'etl_assets_orders' (databricks dry run): analysis OK: orders_bronze, orders_silver" in (
        capsys.readouterr().out)


def test_a_table_that_does_not_resolve_is_named_with_its_error(fake, monkeypatch, capsys):
    fast(monkeypatch)
    fake.scripts[fake.orders] = analysis({"orders_silver": "[UNRESOLVED_COLUMN] `amount` cannot be resolved"})
    assert main(["validate", "--config", SHOP, "--dry-run", "--engine", "databricks", "--select", "orders_silver"]) == 1
    err = capsys.readouterr().err
    assert "pipeline 'etl_assets_orders' (databricks dry run, update update-" in err and "analysis failed" in err
    assert "  orders_silver: [UNRESOLVED_COLUMN] `amount` cannot be resolved" in err


def test_a_dry_run_of_a_table_config_does_not_know_is_refused(fake, capsys):
    assert main(["validate", "--config", SHOP, "--dry-run", "--engine", "databricks", "--select", "nope"]) == 1
    assert "--select names no table of config: nope" in capsys.readouterr().err
    assert fake.calls("POST", "/updates") == []


@pytest.mark.slow
def test_a_local_dry_run_names_the_table_that_does_not_resolve_and_writes_nothing(local_home, tmp_path, capsys):
    root = tmp_path / "plain"
    shutil.copytree(Path(SHOP).parent.parent / "plain", root)
    gold = root / "transformations" / "gold" / "numbers_gold.py"
    gold.write_text(gold.read_text().replace('spark.read.table("numbers_silver")',
                                             'spark.read.table("numbers_silver").select("no_such_column")'))
    assert main(["validate", "--config", str(root / "config.yml"), "--dry-run", "--engine", "local",
                 "--select", "numbers_silver,numbers_gold"]) == 1
    err = capsys.readouterr().err
    assert "pipeline 'numbers' (local dry run, pipeline client exit code 1): analysis failed" in err
    assert "  numbers_gold: failed to resolve" in err
    assert "no_such_column" in err
    assert not local_home.table_location("numbers_silver").exists()
