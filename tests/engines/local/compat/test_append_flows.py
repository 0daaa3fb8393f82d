"""Several append flows into one streaming table: no row is lost.

Open-source Spark loses the rows of all but one flow (the file sink's commit log is numbered by
each flow's batch ids); running one flow at a time (`maxConcurrentFlows` 1) lost them as well.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from etl_assets.engines.local.server import recorded_server
from etl_assets.engines.local.spec import write_spec
from etl_assets.project.load import load_config

pytestmark = pytest.mark.slow
FLOWS = 4
ROWS = 50


def code(table: str) -> str:
    return f'''
        from pyspark import pipelines as dp

        landing = spark.conf.get("etl_assets.landing_path")
        dp.create_streaming_table("{table}")
        for region in range({FLOWS}):
            @dp.append_flow(target="{table}", name=f"{table}_{{region}}")
            def flow(region=region):
                return spark.readStream.format("json").schema("id BIGINT, region BIGINT").load(
                    f"{{landing}}/{table}/{{region}}")
        '''


def land(pipelines, table: str) -> None:
    for region in range(FLOWS):
        pipelines.landed(f"{table}/{region}", {"1.json": "".join(json.dumps({"id": i, "region": region}) + "\n"
                                                                  for i in range(ROWS))})


def test_open_source_spark_loses_rows_of_several_append_flows(pipelines):
    config = pipelines.project("race", {"race_all": code("race_all")})
    land(pipelines, "race_all")
    pipelines.ok(config)  # starts the server
    loaded = load_config(config, check_files=False)
    spec = write_spec(loaded, "race", pipelines.home)
    record = recorded_server(pipelines.home)
    assert record is not None
    env = {**os.environ, "SPARK_REMOTE": f"sc://localhost:{record['port']}/;token={record['token']}"}
    lost = []
    for _ in range(3):
        result = subprocess.run([sys.executable, "-m", "pyspark.pipelines.cli", "run", "--spec", str(spec),
                                 "--full-refresh", "race_all"], env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-3000:]
        lost.append(FLOWS * ROWS - len(pipelines.rows("race_all")))
    assert any(lost), lost


def test_the_client_keeps_every_row_of_every_flow(pipelines):
    config = pipelines.project("union", {"union_all": code("union_all")})
    land(pipelines, "union_all")
    pipelines.ok(config)
    assert len(pipelines.rows("union_all")) == FLOWS * ROWS
    # Later files are read once, by the flow of their folder.
    (pipelines.home.landing / "union_all" / "2").joinpath("2.json").write_text('{"id": 999, "region": 2}\n')
    pipelines.ok(config)
    rows = pipelines.rows("union_all")
    assert len(rows) == FLOWS * ROWS + 1 and sum(r["id"] == 999 for r in rows) == 1
