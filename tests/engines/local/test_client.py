"""The in-process pipeline client: its command line, and a run without a warm server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from etl_assets.engines.local.progress import FlowEvent, RunEvent, decode
from etl_assets.engines.local.runner import LocalRunner, RunOutcome
from etl_assets.engines.local.server import server_pids
from etl_assets.engines.local.tables import count_rows
from etl_assets.project.load import load_config
from tests.conftest import scenario


def test_the_client_needs_the_server_from_its_environment(tmp_path):
    spec = tmp_path / "spec.yml"
    spec.write_text("name: x\nstorage: file:///tmp/x\n")
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "etl_assets.engines.local.client", "--spec", str(spec)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "ETL_ASSETS_CONNECT_PORT and ETL_ASSETS_CONNECT_TOKEN must name the home's Spark Connect server" in result.stderr
    missing = subprocess.run([sys.executable, "-m", "etl_assets.engines.local.client", "--spec", str(tmp_path / "no")],
                             env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no pipeline spec at" in missing.stderr


@pytest.mark.slow
def test_without_a_warm_server_a_run_starts_one_and_stops_it(local_home):
    config = load_config(scenario("plain"))
    runner = LocalRunner(config, local_home, warm_spark=False)
    items = list(runner.run("numbers", ["numbers_bronze", "numbers_silver"]))
    outcome = items[-1]
    assert isinstance(outcome, RunOutcome)
    assert outcome.returncode == 0 and outcome.run_status == "COMPLETED", "\n".join(outcome.lines[-40:])
    # The client prints each event of the run as a JSON line: every flow's state arrives structured.
    assert {e.table: e.status for e in items if isinstance(e, FlowEvent)} == {
        "numbers_bronze": "COMPLETED", "numbers_silver": "COMPLETED", "numbers_gold": "EXCLUDED",
        "letters_bronze": "EXCLUDED"}
    assert [e.status for e in items if isinstance(e, RunEvent)] == ["COMPLETED"]
    # The run's output keeps each event's message as spark-pipelines prints it, for error texts.
    assert any(line.endswith("Run is COMPLETED.") for line in outcome.lines)
    assert not any(decode(line) for line in outcome.lines)
    assert count_rows(local_home.table_location("numbers_silver")) == 5
    assert server_pids(local_home) == []
