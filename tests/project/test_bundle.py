"""config.yml, the transformations and databricks.yml checked together by `etl-assets validate`."""

from __future__ import annotations

import shutil

import pytest

from etl_assets.cli import main
from etl_assets.project.bundle import check_bundle, check_code, defined_datasets
from etl_assets.project.load import load_config
from tests.conftest import SCENARIOS

SHOP = SCENARIOS / "shop"


@pytest.fixture
def shop(tmp_path):
    """A copy of the `shop` scenario (config, bundle, transformations) to break in one place."""
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def validate(root, capsys) -> tuple[int, str]:
    code = main(["validate", "--config", str(root / "config.yml")])
    captured = capsys.readouterr()
    return code, captured.err


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_scenario_is_consistent(shop, capsys):
    assert validate(shop, capsys)[0] == 0


def test_datasets_are_read_from_the_code():
    assert defined_datasets(SHOP / "transformations/bronze/customers_cdc_bronze.py") == {"customers_cdc_bronze": 13}
    assert set(defined_datasets(SHOP / "transformations/silver/customers.py")) == {"customers"}
    assert set(defined_datasets(SHOP / "transformations/silver/customers_cdc_clean.py")) == {"customers_cdc_clean"}


def test_pipeline_missing_from_the_bundle(shop, capsys):
    text = (shop / "resources/pipelines.yml").read_text()
    (shop / "resources/pipelines.yml").write_text(text[: text.index("    orders:")])
    code, err = validate(shop, capsys)
    assert code == 1
    assert "config.yml:" in err
    assert "pipeline 'orders' (deployed as 'etl_assets_orders') has no pipeline resource in the bundle" in err


def test_table_file_that_no_pipeline_includes(shop, capsys):
    edit(shop / "resources/pipelines.yml", "        - file: {path: ../transformations/silver/orders_silver.py}\n", "")
    code, err = validate(shop, capsys)
    assert code == 1
    assert "resources/pipelines.yml:" in err
    assert "table 'orders_silver': pipeline resource 'orders' does not include transformations/silver/orders_silver.py" in err


def test_dataset_in_code_but_not_in_config(shop, capsys):
    (shop / "transformations/gold/refunds_gold.py").write_text(
        "from pyspark import pipelines as dp\n\n\n@dp.materialized_view(name='refunds_gold')\ndef refunds_gold():\n"
        "    return spark.read.table('orders_silver')\n")
    code, err = validate(shop, capsys)
    assert code == 1
    assert "transformations/gold/refunds_gold.py:4: dataset 'refunds_gold' is defined in code but is not a table" in err


def test_table_whose_file_defines_another_name(shop, capsys):
    edit(shop / "transformations/gold/orders_gold.py", 'name="orders_gold"', 'name="orders_daily"')
    code, err = validate(shop, capsys)
    assert "defines no dataset named 'orders_gold' (it defines: orders_daily)" in err
    assert "dataset 'orders_daily' is defined in code but is not a table" in err


def test_unknown_resource_field(shop, capsys):
    edit(shop / "resources/pipelines.yml", "      serverless: true\n", "      serverles: true\n")
    code, err = validate(shop, capsys)
    assert code == 1
    assert "resources.pipelines.customers_cdc: Unexpected field 'serverles' for class Pipeline" in err
    assert "resources/pipelines.yml:8:" in err


def test_undefined_variable(shop, capsys):
    edit(shop / "resources/foundation.yml", "${var.catalog}", "${var.catalgo}")
    code, err = validate(shop, capsys)
    assert code == 1
    assert "resources/foundation.yml:5: undefined variable ${var.catalgo} (hint: did you mean 'catalog'?)" in err


def test_resource_reference_that_resolves_to_nothing(shop, capsys):
    edit(shop / "resources/job.yml", "${resources.pipelines.orders.id}", "${resources.pipelines.order.id}")
    code, err = validate(shop, capsys)
    assert code == 1
    assert "${resources.pipelines.order} names no resource (hint: did you mean 'orders'?)" in err


def test_every_problem_at_once(shop):
    edit(shop / "resources/pipelines.yml", "      serverless: true\n", "      serverles: true\n")
    edit(shop / "resources/foundation.yml", "${var.catalog}", "${var.catalgo}")
    config = load_config(shop / "config.yml")
    assert len(check_bundle(config)) == 2
    assert check_code(config) == []
