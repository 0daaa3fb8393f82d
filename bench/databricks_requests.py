"""How many Pipelines API requests the Databricks engine makes, and how soon it notices the end.

    .venv/bin/python bench/databricks_requests.py

A 20-table selection over 2 pipelines (10 tables each) against the fake workspace of the tests
(127.0.0.1), the real databricks-sdk, and fake time: each update runs 10 minutes, its tables
reporting progress along the way. Sleeping advances the fake clock instead of waiting.
Baseline for the request count: one request per second of update time for a naive poller
(1,200 here). Prints the calls by kind, whether any event was fetched twice, and the fake
seconds between each update's end and the step's.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from dagster import AssetKey  # noqa: E402
from gen_config import generate  # noqa: E402

from etl_assets.engines.base import RefreshRequest  # noqa: E402
from etl_assets.engines.databricks.settings import DatabricksSettings  # noqa: E402
from etl_assets.engines.databricks.updates import DatabricksEngine  # noqa: E402
from etl_assets.project.config import load_config  # noqa: E402
from etl_assets.project.graph import TableGraph  # noqa: E402
from tests.support.fake_databricks import FakeDatabricks, FakeUpdate, Step, flow_event  # noqa: E402

DURATION = 600.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def ten_minutes(update: FakeUpdate) -> list[Step]:
    tables = update.tables
    steps = [Step("QUEUED"), Step("INITIALIZING", at=20), Step("SETTING_UP_TABLES", at=40)]
    span = (DURATION - 90) / len(tables)
    for i, table in enumerate(tables):
        steps.append(Step("RUNNING", [flow_event(table, "RUNNING")], at=60 + i * span))
        steps.append(Step("RUNNING", [flow_event(table, "COMPLETED", rows=1000, upserted=1000)], at=60 + (i + 0.8) * span))
    steps.append(Step("COMPLETED", at=DURATION))
    return steps


def main() -> None:
    logging.disable(logging.CRITICAL)
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp, FakeDatabricks(clock=clock) as fake:
        config = load_config(generate(Path(tmp), 20, pipelines=2))
        for key, pipeline in config.pipelines.items():
            fake.add_pipeline(pipeline.name, script=ten_minutes)
        os.environ.update({"HOME": tmp, "DATABRICKS_CONFIG_FILE": f"{tmp}/none", "DATABRICKS_HOST": fake.url,
                           "DATABRICKS_TOKEN": fake.token})
        engine = DatabricksEngine(settings=DatabricksSettings.from_env(os.environ), sleep=clock.sleep)
        graph = TableGraph(config)
        keys = {t.name: AssetKey(t.name) for t in config.tables}
        lags = []
        for key in graph.pipeline_order():
            tables = [t.name for t in config.tables_of(key)]
            start = clock.now
            results = list(engine.refresh(RefreshRequest(config, config.pipelines[key], tables, asset_keys=keys),
                                          SimpleNamespace(log=logging.getLogger("bench"))))
            lags.append(clock.now - start - DURATION)
            assert len(results) == len(tables), results
        kinds = Counter()
        for method, path, _, _ in fake.requests:
            kind = path.split("/")[-1] if "/updates/" not in path else "get update"
            kinds[f"{method} {kind if not kind.startswith('0') else 'pipeline'}"] += 1
        total = len(fake.requests)
        print(f"requests in all: {total} (naive 1/s poller: {int(2 * DURATION)}, ratio {total / (2 * DURATION):.3f})")
        for kind, count in sorted(kinds.items()):
            print(f"  {kind}: {count}")
        print(f"start calls: {kinds['POST updates']}")
        print(f"events fetched twice: {fake.events_served_twice()}")
        print("step end after update end (fake s): " + ", ".join(f"{lag:.1f}" for lag in lags)
              + f" (poll interval at most {engine.settings.max_poll_seconds:.0f} s)")


if __name__ == "__main__":
    main()
