"""Expectations config.yml declares for a table whose code declares none."""

from __future__ import annotations

import textwrap

import pytest

from etl_assets.engines.base import RefreshRequest
from etl_assets.engines.events import QualityReported, RunFinished, TableCompleted
from etl_assets.engines.local.engine import LocalEngine
from etl_assets.project.load import load_config


@pytest.mark.slow
def test_rules_only_config_declares_are_reported_missing_and_the_table_still_refreshes(pipelines):
    folder = pipelines.root / "config_rules"
    code = folder / "transformations" / "silver" / "amounts.py"
    code.parent.mkdir(parents=True)
    code.write_text(textwrap.dedent("""
        from pyspark import pipelines as dp

        @dp.materialized_view
        def amounts():
            return spark.range(4).selectExpr("id", "id * 10 AS amount")
    """).lstrip())
    (folder / "config.yml").write_text(textwrap.dedent("""
        pipelines:
          p: {name: p}
        tables:
          - name: amounts
            layer: silver
            pipeline: p
            expectations:
              - {name: positive, condition: "amount > 0", action: warn}
    """).lstrip())
    config = load_config(folder / "config.yml", check_files=False)
    engine = LocalEngine(home=pipelines.home.root)
    events = list(engine.refresh(RefreshRequest(config, config.pipelines["p"], ["amounts"])))
    finished = [e for e in events if isinstance(e, RunFinished)]
    assert finished and finished[-1].status == "COMPLETED", finished[-1].error_text if finished else events
    assert [e.row_count for e in events if isinstance(e, TableCompleted)] == [4]
    quality = [e for e in events if isinstance(e, QualityReported)]
    # The code registers no per-row results for the rule: nothing counted, and the hint says where
    # to declare it (the Dagster check then fails with that hint, see tests/dagster/test_results.py).
    assert len(quality) == 1 and quality[0].counts == {} and "amounts.py" in quality[0].hint
