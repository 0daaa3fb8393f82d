"""`etl-assets refresh --full-refresh T / --reset-checkpoint T`: the recovery run configs from the
command line, run through Dagster against the stand-in workspace."""

from __future__ import annotations

from etl_assets.cli import main
from tests.conftest import scenario
from tests.support.fake_databricks import FAST

SHOP = str(scenario("shop"))


def fast(monkeypatch):
    for name, value in FAST.items():
        monkeypatch.setenv(f"ETL_ASSETS_DATABRICKS_{name.upper()}", str(value))


def starts(fake) -> list[dict]:
    return [body for _, _, _, body in fake.calls("POST", "/updates")]


def test_refresh_resets_a_checkpoint_and_rebuilds_one_table(fake, monkeypatch, capsys):
    fast(monkeypatch)
    assert main(["refresh", "--config", SHOP, "--engine", "databricks", "--reset-checkpoint", "orders_bronze",
                 "--full-refresh", "orders_silver"]) == 0
    assert starts(fake) == [{"full_refresh_selection": ["orders_silver"], "refresh_selection": ["orders_bronze"],
                             "reset_checkpoint_selection": ["orders_bronze"]}]
    out = capsys.readouterr().out
    assert "orders_bronze: refreshed (rows written: 10)" in out and "orders_silver: refreshed" in out
    assert "2 table(s) refreshed on databricks" in out


def test_refresh_of_a_selection_across_pipelines_starts_one_update_each(fake, monkeypatch):
    fast(monkeypatch)
    assert main(["refresh", "--config", SHOP, "--engine", "databricks", "--select",
                 "customers_cdc_bronze,orders_bronze"]) == 0
    assert starts(fake) == [{"refresh_selection": ["customers_cdc_bronze"]}, {"refresh_selection": ["orders_bronze"]}]


def test_bad_names_fail_before_anything_starts(fake, monkeypatch, capsys):
    fast(monkeypatch)
    assert main(["refresh", "--config", SHOP, "--engine", "databricks", "--reset-checkpoint", "orders_silver"]) == 1
    assert "reset_checkpoint_tables names 'orders_silver', which is not a streaming table" in capsys.readouterr().err
    assert main(["refresh", "--config", SHOP, "--engine", "databricks", "--full-refresh", "orders_bronz"]) == 1
    err = capsys.readouterr().err
    assert "no table 'orders_bronz' in config" in err and "did you mean 'orders_bronze'?" in err
    assert main(["refresh", "--config", SHOP, "--engine", "databricks"]) == 1
    assert "no table to refresh" in capsys.readouterr().err
    assert starts(fake) == []


def test_a_failed_step_exits_1_with_its_message(fake, monkeypatch, capsys):
    from tests.support.fake_databricks import failing

    fast(monkeypatch)
    fake.scripts[fake.orders] = failing("orders_silver", "[UNRESOLVED_COLUMN] `amount`")
    assert main(["refresh", "--config", SHOP, "--engine", "databricks", "--select", "orders_bronze,orders_silver",
                 "--full-refresh", "orders_silver"]) == 1
    err = capsys.readouterr().err
    assert "step orders" in err and "failed: orders_silver" in err and "[UNRESOLVED_COLUMN]" in err
