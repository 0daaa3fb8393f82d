"""The running Dagster UI: a real dagster-webserver on the plain scenario, driven through its
GraphQL API as the UI's own pages are, with a real run on Spark."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, SCENARIOS
from tests.support.webserver import webserver

LOCATION = "etl_assets.definitions"


@pytest.fixture
def ui(tmp_path: Path, local_home):
    project = tmp_path / "plain"
    shutil.copytree(SCENARIOS / "plain", project)
    with (project / "config.yml").open("a") as config:
        config.write('schedules:\n  - {name: daily, cron: "0 6 * * *", selection: "tag:daily"}\n'
                     'automation:\n  - {selection: "group:gold", condition: eager}\n'
                     'freshness:\n  - {selection: "tag:daily", fail_after: 26h, warn_after: 12h}\n')
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    # The project's instance settings, plus runs launched at once (no daemon in a test).
    (dagster_home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text() + (
        "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: DefaultRunCoordinator\n"))
    env = {**os.environ, "ETL_ASSETS_CONFIG": str(project / "config.yml"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    log = tmp_path / "webserver.log"
    with webserver(["-m", LOCATION], cwd=project, env=env, log=log) as client:
        yield client
    # No Python warning and no "no dagster.yaml found" at start or during the run.
    said = log.read_text().splitlines()
    assert not [line for line in said if re.search(r"\w+Warning: |dagster\.yaml\) found", line)]


REPOSITORY = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}

ASSET = """
query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
  definition { kinds groupName opVersion metadataEntries { label ... on TextMetadataEntry { text } } }
  assetMaterializations(limit: 1) { runId metadataEntries { label __typename
    ... on IntMetadataEntry { intValue }
    ... on TextMetadataEntry { text }
    ... on PathMetadataEntry { path }
    ... on TableSchemaMetadataEntry { schema { columns { name type } } } } } } } }
"""


AUTOMATIONS = """
{ assetNodes { assetKey { path }
  targetingInstigators { __typename ... on Schedule { name } ... on Sensor { name } }
  automationCondition { label }
  internalFreshnessPolicy { ... on TimeWindowFreshnessPolicy { failWindowSeconds warnWindowSeconds } } } }
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_ui_launches_tag_daily_and_shows_rows_columns_and_schedule_targets(ui):
    nodes = ui.query("{ assetNodes { assetKey { path } tags { key value } } }")["assetNodes"]
    daily = sorted(n["assetKey"]["path"] for n in nodes if {"key": "daily", "value": ""} in n["tags"])
    assert daily == [["numbers_bronze"], ["numbers_silver"]]

    # Each asset page lists what runs it ("Automations"), its condition and its freshness, as the UI asks.
    shown = {tuple(n["assetKey"]["path"]): n for n in ui.query(AUTOMATIONS)["assetNodes"]}
    runs = {key: sorted((i["__typename"], i["name"]) for i in n["targetingInstigators"]) for key, n in shown.items()}
    assert runs[("numbers_bronze",)] == [("Schedule", "daily")]
    assert runs[("numbers_silver",)] == [("Schedule", "daily")]
    assert runs[("letters_bronze",)] == []
    assert ("Sensor", "default_automation_condition_sensor") in runs[("numbers_gold",)]
    assert shown[("numbers_gold",)]["automationCondition"]["label"] == "eager"
    assert shown[("numbers_bronze",)]["automationCondition"] is None
    assert shown[("numbers_silver",)]["internalFreshnessPolicy"] == {"failWindowSeconds": 26 * 3600,
                                                                      "warnWindowSeconds": 12 * 3600}
    assert shown[("letters_bronze",)]["internalFreshnessPolicy"] is None

    launched = ui.query("""
        mutation($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
          __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        params={"selector": {**REPOSITORY, "pipelineName": "__ASSET_JOB",
                             "assetSelection": [{"path": p} for p in daily]},
                "mode": "default", "executionMetadata": {"tags": []}})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 600
    while True:
        status = ui.query("query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                          id=run_id)["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        assert time.monotonic() < deadline, f"run {run_id} still {status}"
        time.sleep(2)
    assert status == "SUCCESS"

    silver = ui.query(ASSET, key={"path": ["numbers_silver"]})["assetOrError"]
    assert set(silver["definition"]["kinds"]) == {"spark", "silver"}
    assert silver["definition"]["opVersion"]  # the code version: stale when the file changes
    definition = {e["label"]: e.get("text") for e in silver["definition"]["metadataEntries"]}
    assert definition["dagster/table_name"] == "spark_catalog.default.numbers_silver"
    assert "dagster/code_references" in definition
    (materialization,) = silver["assetMaterializations"]
    assert materialization["runId"] == run_id
    shown = {e["label"]: e for e in materialization["metadataEntries"]}
    assert shown["dagster/row_count"]["intValue"] == 5
    assert shown["dagster/column_schema"]["schema"]["columns"] == [{"name": "n", "type": "bigint"}]
    assert shown["table_commit"]["text"].startswith("written at ")
    assert shown["table_location"]["__typename"] == "PathMetadataEntry"

    schedules = ui.query("""query($repo: RepositorySelector!) { schedulesOrError(repositorySelector: $repo) {
        ... on Schedules { results { name assetSelection { assetKeys { path } } } } } }""",
        repo=REPOSITORY)["schedulesOrError"]["results"]
    assert [(s["name"], sorted(k["path"] for k in s["assetSelection"]["assetKeys"])) for s in schedules] == [
        ("daily", daily)]
