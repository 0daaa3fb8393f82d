"""The lost-dependency trap: `withColumn`, `drop`, `withColumnRenamed` over a pipeline dataset.

With pyspark 4.3 the Spark Connect planner analyzes their input eagerly, so the read resolves to
the table the previous run left and the downstream runs before (or without) its refreshed input.
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

# Open-source style, so that pyspark's own client runs the same files.
DOWNSTREAM = """
    from pyspark import pipelines as dp
    from pyspark.sql import functions as F

    @dp.materialized_view
    def dep_out():
        return (spark.read.table("dep_src")
                .withColumn("doubled", F.col("id") * 2)
                .withColumn("id", F.col("id") + 1000)
                .drop("note")
                .withColumnRenamed("label", "name"))
    """


def land(pipelines, name: str, ids: range) -> None:
    pipelines.landed("dep", {name: "".join(json.dumps({"id": i, "label": f"l{i}", "note": "x"}) + "\n" for i in ids)})


def project(pipelines):
    return pipelines.project("dep", {
        "dep_src": """
            from pyspark import pipelines as dp

            @dp.table
            def dep_src():
                landing = spark.conf.get("etl_assets.landing_path") + "/dep"
                return spark.readStream.format("json").schema("id BIGINT, label STRING, note STRING").load(landing)
            """,
        "dep_out": DOWNSTREAM,
    }, depends={"dep_out": ["dep_src"]})


def open_source_cli_run(pipelines, config) -> subprocess.CompletedProcess[str]:
    """The same update with pyspark's own client (no compatibility layer) on the same server."""
    loaded = load_config(config, check_files=False)
    spec = write_spec(loaded, "dep", pipelines.home)
    record = recorded_server(pipelines.home)
    assert record is not None
    env = {**os.environ, "SPARK_REMOTE": f"sc://localhost:{record['port']}/;token={record['token']}"}
    return subprocess.run([sys.executable, "-m", "pyspark.pipelines.cli", "run", "--spec", str(spec),
                           "--refresh", "dep_src,dep_out"], env=env, capture_output=True, text=True, timeout=600)


def test_withcolumn_drop_and_rename_keep_the_dependency(pipelines):
    config = project(pipelines)
    land(pipelines, "1.json", range(3))
    pipelines.ok(config)
    assert len(pipelines.rows("dep_out")) == 3

    # Reproduced with pyspark's own client: the downstream reads what dep_src held before the run.
    land(pipelines, "2.json", range(3, 6))
    result = open_source_cli_run(pipelines, config)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert len(pipelines.rows("dep_src")) == 6
    assert len(pipelines.rows("dep_out")) == 3

    # Through the local client the downstream runs after its input, every time.
    land(pipelines, "3.json", range(6, 9))
    pipelines.ok(config)
    assert len(pipelines.rows("dep_src")) == 9
    rows = pipelines.rows("dep_out")
    assert len(rows) == 9
    assert rows[0] == {"id": 1000, "name": "l0", "doubled": 0}
    # withColumn keeps a replaced column in place and appends a new one; the renamed column comes last.
    assert pipelines.columns("dep_out") == ["id", "doubled", "name"]


def test_a_generated_column_name_is_renamed_as_spark_renames_it(pipelines):
    """`count(1)` is not a plain name: the lazy rename quotes it, so the view keeps its dependency
    and reads its input as this run left it."""
    config = pipelines.project("agg", {
        "agg_src": """
            from pyspark import pipelines as dp

            @dp.table
            def agg_src():
                landing = spark.conf.get("etl_assets.landing_path") + "/agg"
                return spark.readStream.format("json").schema("id BIGINT, label STRING").load(landing)
            """,
        "agg_out": """
            from pyspark import pipelines as dp

            @dp.materialized_view
            def agg_out():
                return (spark.read.table("agg_src").groupBy("label").agg({"*": "count", "id": "sum"})
                        .withColumnsRenamed({"count(1)": "n", "sum(id)": "total"}))
            """,
    }, depends={"agg_out": ["agg_src"]})
    pipelines.landed("agg", {"1.json": "".join(json.dumps({"id": i, "label": f"l{i % 2}"}) + "\n" for i in range(5))})
    pipelines.ok(config)
    assert sorted(pipelines.rows("agg_out"), key=lambda r: r["label"]) == [
        {"label": "l0", "n": 3, "total": 6}, {"label": "l1", "n": 2, "total": 4}]
    assert pipelines.columns("agg_out") == ["label", "n", "total"]
    pipelines.landed("agg", {"2.json": json.dumps({"id": 10, "label": "l1"}) + "\n"})
    pipelines.ok(config)
    assert sorted(pipelines.rows("agg_out"), key=lambda r: r["label"]) == [
        {"label": "l0", "n": 3, "total": 6}, {"label": "l1", "n": 3, "total": 14}]
