"""One contract for how an update ends, the same scenarios on both engines.

A completed update materializes every selected table with what is known (`not reported` where
numbers are missing); a failed update fails the step naming each table's outcome; closing the
run stops the update. A run is never green with a selected table neither materialized nor
failed.

Each scenario is written once, engine-neutral, and played on each engine's own stand-in at its
own boundary: the Databricks engine (the real databricks-sdk) against the stand-in workspace of
tests/support/fake_databricks.py, the local engine against a scripted pipeline client printing
the JSON lines the real client prints (tests/support/scripted_client.py), read by the real
runner. Real Spark runs of the same contract are in tests/engines/local.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from dagster import AssetKey, MaterializeResult

from etl_assets.dagster.results import stream_results
from etl_assets.engines.base import RefreshRequest
from etl_assets.engines.events import NOT_REPORTED, TableStarted
from etl_assets.engines.local.engine import LocalEngine
from etl_assets.engines.local.progress import classify, encode
from etl_assets.engines.local.runner import LocalRunner
from etl_assets.errors import PipelineFailedError
from etl_assets.project.load import load_config
from tests.support import fake_databricks as stand_in

CONFIG = """
    pipelines:
      orders: {name: etl_assets_orders}
    tables:
      - {name: orders_bronze, layer: bronze, pipeline: orders}
      - {name: orders_silver, layer: silver, pipeline: orders, depends_on: [orders_bronze]}
      - {name: orders_gold, layer: gold, pipeline: orders, depends_on: [orders_silver]}
"""
BRONZE, SILVER, GOLD = TABLES = ["orders_bronze", "orders_silver", "orders_gold"]
ERROR = "[UNRESOLVED_COLUMN] A column with name `amount` cannot be resolved"


@dataclass(frozen=True)
class Report:
    """What a table's flow reports: a state, maybe late (visible only after the update's end) or
    as a reading of numbers (a METRICS-level event) rather than a change of state."""

    table: str
    status: str
    late: bool = False
    reading: bool = False


@dataclass(frozen=True)
class Scenario:
    steps: list[list[Report]]
    end: str = "COMPLETED"
    hang: bool = False  # the update runs on until it is stopped
    expected: list[str] = field(default_factory=lambda: list(TABLES))


def flows(*pairs: tuple[str, str]) -> list[list[Report]]:
    return [[Report(table, status)] for table, status in pairs]


SCENARIOS = {
    "success": Scenario(flows(*[(t, s) for t in TABLES for s in ("RUNNING", "COMPLETED")])),
    "failed table, skipped downstream": Scenario(
        flows((BRONZE, "RUNNING"), (BRONZE, "COMPLETED"), (SILVER, "RUNNING"), (SILVER, "FAILED"),
              (GOLD, "SKIPPED")), end="FAILED", expected=[BRONZE]),
    "empty update": Scenario([]),
    "missing flow events": Scenario(flows((BRONZE, "RUNNING"), (BRONZE, "COMPLETED"))),
    "late events": Scenario(flows((BRONZE, "RUNNING"), (BRONZE, "COMPLETED"), (SILVER, "RUNNING"),
                                  (SILVER, "COMPLETED"), (GOLD, "RUNNING"))
                            + [[Report(GOLD, "COMPLETED", late=True)]]),
    "metrics-only readings": Scenario([[Report(t, "RUNNING") for t in TABLES],
                                       [Report(t, "COMPLETED", reading=True) for t in TABLES]]),
}


# -- the two engines, each at its own stand-in ---------------------------------------------

class DatabricksSide:
    def __init__(self, fake: stand_in.FakeDatabricks):
        from etl_assets.engines.databricks.settings import DatabricksSettings
        from etl_assets.engines.databricks.updates import DatabricksEngine

        self.fake = fake
        self.engine = DatabricksEngine(settings=DatabricksSettings(**stand_in.FAST))

    def play(self, scenario: Scenario) -> DatabricksSide:
        def event(report: Report) -> dict:
            made = stand_in.flow_event(report.table, report.status, naming="uc", rows=3 if report.status == "COMPLETED" else 0,
                                       level="METRICS" if report.reading else "INFO")
            if report.status == "FAILED":
                made.update(level="ERROR", error={"fatal": True, "exceptions": [
                    {"class_name": "AnalysisException", "message": ERROR}]})
            if report.late:
                made["late_ticks"] = 2  # past the poll that sees the update's end
            return made

        def script(update: stand_in.FakeUpdate) -> list[stand_in.Step]:
            steps = [stand_in.Step("QUEUED")] + [stand_in.Step("RUNNING", [event(r) for r in step])
                                                  for step in scenario.steps]
            if scenario.hang:
                return steps + [stand_in.Step("RUNNING")] * 10_000 + [stand_in.Step("COMPLETED")]
            return steps + [stand_in.Step(scenario.end)]

        self.fake.scripts[self.fake.orders] = script
        return self

    def stopped(self) -> bool:
        return bool(self.fake.calls("POST", "/stop"))


class ScriptedRunner(LocalRunner):
    """The real runner, reading a scripted client instead of starting Spark's."""

    script: Path

    def command(self, pipeline_key, tables, full_refresh):
        return [sys.executable, str(Path(stand_in.__file__).with_name("scripted_client.py")), str(self.script)]

    def run(self, pipeline_key, tables, full_refresh=False):
        yield from self._client(self.command(pipeline_key, tables, full_refresh), os.getpid(),
                                self.environment({"port": 0, "token": "unused"}))


class LocalSide:
    def __init__(self, folder: Path):
        self.folder = folder
        side = self

        class Engine(LocalEngine):
            def runner(self, config, home):
                runner = ScriptedRunner(config, home, warm_spark=False)
                runner.script = side.folder / "script.json"
                return runner

        self.engine = Engine(home=folder / "home", warm_spark=False)

    def play(self, scenario: Scenario) -> LocalSide:
        moment = datetime(2026, 1, 1, 10, tzinfo=timezone.utc)

        def line(message: str) -> str:
            nonlocal moment
            moment += timedelta(seconds=1)
            return encode(classify(message, moment))

        def said(report: Report) -> list[str]:
            name = f"spark_catalog.default.{report.table}"
            if report.reading:
                return []  # Spark Declarative Pipelines prints no readings of numbers
            if report.status == "FAILED":
                return [f"pyspark.errors.exceptions.connect.AnalysisException: {ERROR}",
                        line(f"Flow '{name}' has FAILED.")]
            if report.status == "SKIPPED":
                return [line(f"Flow '{name}' SKIPPED due to upstream failure(s).")]
            verb = "has" if report.status == "COMPLETED" else "is"
            return [line(f"Flow {name} {verb} {report.status}.")]

        lines: list = ["2026-01-01 10:00:00: Starting run..."]
        late: list[str] = []
        for step in scenario.steps:
            for report in step:
                (late if report.late else lines).extend(said(report))
        if scenario.hang:
            lines.append({"sleep": 120})
        lines.append(line("Run is COMPLETED." if scenario.end == "COMPLETED" else "Run has FAILED."))
        self.pid_file = self.folder / "client.pid"
        (self.folder / "script.json").write_text(json.dumps({
            "lines": lines + late, "exit": 0 if scenario.end == "COMPLETED" else 1, "pid_file": str(self.pid_file)}))
        return self

    def stopped(self) -> bool:
        pid = int(self.pid_file.read_text())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


@pytest.fixture(params=["local", "databricks"])
def side(request, tmp_path):
    if request.param == "databricks":
        return DatabricksSide(request.getfixturevalue("fake"))
    return LocalSide(tmp_path)


@pytest.fixture
def config(project):
    return load_config(project(CONFIG))


def update(side, config, scenario: Scenario) -> tuple[list, PipelineFailedError | None]:
    side.play(scenario)
    request = RefreshRequest(config, config.pipelines["orders"], list(TABLES))
    keys = {t: AssetKey(t) for t in TABLES}
    results: list = []
    try:
        for result in stream_results(side.engine.refresh(request), request, keys, logging.getLogger("contract")):
            results.append(result)
    except PipelineFailedError as exc:
        return results, exc
    return results, None


def materialized(results) -> dict[str, dict]:
    return {r.asset_key.path[-1]: dict(r.metadata or {}) for r in results if isinstance(r, MaterializeResult)}


@pytest.mark.parametrize("name", [n for n in SCENARIOS if SCENARIOS[n].end == "COMPLETED"])
def test_a_completed_update_materializes_every_selected_table(side, config, name):
    results, failure = update(side, config, SCENARIOS[name])
    assert failure is None
    assert list(materialized(results)) == TABLES


@pytest.mark.parametrize("name", ["empty update", "missing flow events"])
def test_numbers_a_completed_update_did_not_report_say_so(side, config, name):
    results, _ = update(side, config, SCENARIOS[name])
    found = materialized(results)
    for table in [SILVER, GOLD]:
        assert NOT_REPORTED in found[table].values(), found[table]


def test_a_failed_table_fails_the_step_naming_each_tables_outcome(side, config):
    results, failure = update(side, config, SCENARIOS["failed table, skipped downstream"])
    assert failure is not None
    text = str(failure)
    assert "failed: orders_silver;" in text
    assert "skipped for an upstream failure: orders_gold;" in text
    assert "refreshed: orders_bronze" in text
    assert ERROR in text
    assert list(materialized(results)) == [BRONZE]


def test_closing_the_run_stops_the_update_and_reports_no_success(side, config):
    side.play(Scenario(flows((BRONZE, "RUNNING")), hang=True))
    request = RefreshRequest(config, config.pipelines["orders"], list(TABLES))
    events = side.engine.refresh(request)
    seen = []
    for event in events:
        seen.append(event)
        if isinstance(event, TableStarted):
            break
    events.close()  # what a terminated Dagster run does to the engine's stream
    assert side.stopped()
    assert not any(type(e).__name__ == "RunFinished" for e in seen)


def test_a_table_reported_late_keeps_its_numbers_on_databricks(fake, config):
    results, _ = update(DatabricksSide(fake), config, SCENARIOS["late events"])
    assert materialized(results)[GOLD]["rows_written"] == 3
