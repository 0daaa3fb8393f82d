"""A bundle job task refreshing a subset of its pipeline (`pipeline_task.refresh_selection`)
names tables config.yml gives that pipeline; the databricks-bundles classes accept the field."""

from __future__ import annotations

from etl_assets.project.bundle import check_bundle
from etl_assets.project.load import load_config
from tests.project.test_bundle import edit, shop  # noqa: F401 - the fixture

TASK = "          pipeline_task:\n            pipeline_id: ${resources.pipelines.orders.id}\n"


def test_a_task_refreshing_a_subset_of_its_pipeline_is_accepted(shop):  # noqa: F811
    edit(shop / "resources/job.yml", TASK, TASK + "            refresh_selection: [orders_bronze, orders_silver]\n")
    assert check_bundle(load_config(shop / "config.yml")) == []


def test_a_selection_naming_no_table_of_that_pipeline_is_refused_with_its_line(shop):  # noqa: F811
    edit(shop / "resources/job.yml", TASK, TASK + "            full_refresh_selection: [orders_silvr, customers]\n")
    problems = [str(p) for p in check_bundle(load_config(shop / "config.yml"))]
    assert len(problems) == 2, problems
    assert problems[0].startswith("resources/job.yml:")
    assert ("task 'refresh_orders' full_refresh_selection names 'orders_silvr', which is not a table of pipeline "
            "'orders' in config.yml (hint: did you mean 'orders_silver'?)") in problems[0]
    assert "names 'customers', which is not a table of pipeline 'orders'" in problems[1]
