"""The quality of a materialized view with expectations: counted from the rows it wrote, and
from the rows a `drop` rule took out (the query is not computed twice for the kept rows)."""

from __future__ import annotations

import textwrap

import pytest

from etl_assets.engines.base import RefreshRequest
from etl_assets.engines.events import QualityReported, RunFinished, TableCompleted
from etl_assets.engines.local.engine import LocalEngine
from etl_assets.engines.local.tables import read_rows
from etl_assets.project.load import load_config


def _project(pipelines, name: str, query: str, rules: list[tuple[str, str, str]]):
    """A one-view project whose code and config.yml declare `rules`: (name, condition, action)."""
    folder = pipelines.root / name
    code = folder / "transformations" / "silver" / "scores.py"
    code.parent.mkdir(parents=True)
    decorators = {"drop": "expect_or_drop", "warn": "expect"}
    code.write_text("\n".join([
        "from pyspark import pipelines as dp",
        "from pyspark.sql import functions as F",
        "",
        '@dp.materialized_view(name="scores")',
        *(f'@dp.{decorators[a]}("{n}", "{c}")' for n, c, a in rules),
        "def scores():",
        f"    return {query}",
        "",
    ]))
    declared = "".join(f"\n      - {{name: {n}, condition: \"{c}\", action: {a}}}" for n, c, a in rules)
    (folder / "config.yml").write_text(textwrap.dedent("""
        pipelines:
          p: {name: p}
        tables:
          - name: scores
            layer: silver
            pipeline: p
            expectations:""").lstrip() + declared + "\n")
    return load_config(folder / "config.yml")


def _refresh(pipelines, config):
    events = list(LocalEngine(home=pipelines.home.root).refresh(
        RefreshRequest(config, config.pipelines["p"], ["scores"])))
    finished = [e for e in events if isinstance(e, RunFinished)]
    assert finished and finished[-1].status == "COMPLETED", finished[-1].error_text if finished else events
    [completed] = [e for e in events if isinstance(e, TableCompleted)]
    [quality] = [e for e in events if isinstance(e, QualityReported)]
    return completed, quality


@pytest.mark.slow
def test_drop_and_warn_counts_with_null_results(pipelines):
    config = _project(
        pipelines, "view_rules",
        'spark.range(10).select("id", F.when(F.col("id") != 3, F.col("id") * 10).alias("amount"))',
        [("positive", "amount > 0", "drop"), ("small_id", "id < 5", "warn")])
    completed, quality = _refresh(pipelines, config)
    # id 0 (amount 0) and id 3 (amount null: a null result fails) are dropped.
    assert completed.row_count == 8
    assert quality.counts == {"positive": (8, 2), "small_id": (5, 5)}
    assert quality.rows_checked == 10


@pytest.mark.slow
def test_counts_agree_with_the_rows_written_when_the_query_is_not_deterministic(pipelines):
    # Computed twice, rand() gives other rows each time: counting a second computation of the
    # query would report pass counts that are not those of the rows the view holds.
    config = _project(
        pipelines, "view_rand", 'spark.range(2000).select("id", F.rand().alias("r"))',
        [("kept", "r < 0.9", "drop"), ("low", "r < 0.5", "warn")])
    completed, quality = _refresh(pipelines, config)
    _, rows = read_rows(pipelines.home.table_location("scores"))
    assert completed.row_count == len(rows)
    assert quality.counts["kept"][0] == len(rows)
    assert quality.counts["low"][0] == sum(1 for row in rows if row["r"] < 0.5)
    assert quality.rows_checked == len(rows) + quality.counts["kept"][1]
