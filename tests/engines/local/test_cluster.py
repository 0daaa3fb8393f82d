"""The local engine on a Spark cluster: the warm server is the driver, executors run the flows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import instance_for_test, materialize

from etl_assets.dagster.assets import build_table_assets
from etl_assets.dagster.resources import LocalPipelinesResource, default_engine_resource
from etl_assets.engines.local.engine import LocalEngine
from etl_assets.engines.local.home import LocalHome, file_system_type
from etl_assets.engines.local.server import stop_warm_spark
from etl_assets.engines.local.tables import read_rows
from etl_assets.errors import ConfigError, DataError
from etl_assets.example.datagen import generate
from etl_assets.project.load import load_config
from tests.conftest import REPO
from tests.support.spark_cluster import LoopbackCluster

ROWS = 150


def materialize_example(resource: LocalPipelinesResource):
    assets = build_table_assets(load_config(REPO / "config.yml"))
    with instance_for_test() as instance:
        return materialize(assets, instance=instance, resources={"engine": resource}, raise_on_error=False)


def table_rows(home: LocalHome, table: str) -> list[str]:
    _, rows = read_rows(home.table_location(table))
    return sorted(repr(sorted(row.items())) for row in rows)


@pytest.mark.slow
def test_the_example_on_a_standalone_cluster_matches_an_embedded_run(tmp_path):
    config = load_config(REPO / "config.yml")
    embedded, clustered = LocalHome(tmp_path / "embedded"), LocalHome(tmp_path / "clustered")
    generate(embedded.landing, rows=ROWS, seed=5)
    shutil.copytree(embedded.landing, clustered.landing)
    # The cluster's daemons start while the embedded run goes, and stop whatever happens.
    with LoopbackCluster(tmp_path / "cluster", workers=1, wait_on_enter=False) as cluster:
        try:
            result = materialize_example(LocalPipelinesResource(home=str(embedded.root)))
            assert result.success, [f.step_failure_data.error.message for f in result.get_step_failure_events()]
        finally:
            stop_warm_spark(embedded)
        cluster.wait_ready()
        resource = LocalPipelinesResource(home=str(clustered.root), master=cluster.url, spark_conf=cluster.app_conf())
        try:
            result = materialize_example(resource)
            assert result.success, [f.step_failure_data.error.message for f in result.get_step_failure_events()]
            apps = cluster.master_state()["activeapps"]
            # A run asking the same home for another master is refused, the running server untouched.
            other = materialize_example(LocalPipelinesResource(home=str(clustered.root)))
            assert not other.success
            refusals = [f.step_failure_data.error.to_string() for f in other.get_step_failure_events()]
            assert refusals and all(f"runs on {cluster.url}" in m and "etl-assets stop-spark" in m for m in refusals)
            assert [a["id"] for a in cluster.master_state()["activeapps"]] == [a["id"] for a in apps]
        finally:
            stop_warm_spark(clustered)
        (logs,) = cluster.executor_logs().values()

    # The server was the cluster's one application, and its executor on the worker ran the tasks.
    assert [app["name"] for app in apps] == ["Spark Connect server"], apps
    assert logs and all(app["id"] in str(logs[0]) for app in apps)
    executed = "".join(log.read_text(errors="replace") for log in logs)
    assert executed.count("Finished task") >= 10, executed[-2000:]
    for table in config.tables:
        assert table_rows(clustered, table.name) == table_rows(embedded, table.name), table.name
        assert table_rows(clustered, table.name), table.name


def test_a_hadoop_uri_as_home_is_refused_with_what_would_not_hold():
    with pytest.raises(ConfigError) as raised:
        LocalEngine(home="s3a://bucket/etl")
    message = str(raised.value)
    assert "s3a:// URI" in message and "hard links" in message and "flock" in message
    assert "same path" in message
    assert LocalEngine(home="file:///data/etl").home == Path("/data/etl")


def test_a_master_or_setting_the_engine_cannot_run_with_is_refused_before_anything_runs(tmp_path):
    config = load_config(REPO / "config.yml")
    engine = LocalEngine(home=tmp_path / "home", master="mesos://10.0.0.1:5050",
                         spark_conf={"spark.sql.warehouse.dir": "s3a://bucket/wh", "executor.memory": "4g",
                                     "spark.submit.deployMode": "cluster"})
    with pytest.raises(ConfigError) as raised:
        engine.home_for(config)
    message = str(raised.value)
    assert "4 problems" in message
    assert "mesos://10.0.0.1:5050" in message and "spark.sql.warehouse.dir" in message
    assert "'executor.memory' is not a Spark setting" in message and "deploy mode is always client" in message
    assert not (tmp_path / "home").exists()


def test_a_home_on_this_machines_own_disk_is_refused_for_executors_on_other_machines(tmp_path):
    kind = file_system_type(tmp_path)
    if kind not in ("ext4", "xfs", "btrfs", "tmpfs", "overlay"):
        pytest.skip(f"the temporary folder is on {kind}, which other machines may see")
    home = LocalHome.configured(tmp_path / "home", "spark://10.0.0.5:7077", {"spark.executor.memory": "2g"})
    with pytest.raises(DataError, match=rf"own disk \({kind}\).*spark://10.0.0.5:7077.*every node sees"):
        home.prepare()
    # On this machine's own loopback cluster the same folder is fine.
    LocalHome.configured(tmp_path / "home", "spark://127.0.0.1:7077").prepare()


def test_the_home_keeps_executor_settings_out_of_its_files_and_after_its_own_java_options(tmp_path):
    home = LocalHome.configured(tmp_path / "home", "spark://127.0.0.1:7077", {
        "spark.driver.extraJavaOptions": "-Dx=1", "spark.hadoop.fs.s3a.secret.key": "hush"})
    conf = home.spark_conf()
    assert conf["spark.driver.extraJavaOptions"] == f"-Dderby.system.home={home.metastore} -Dx=1"
    assert conf["spark.hadoop.fs.s3a.secret.key"] == "hush"
    assert home.server_fingerprint() != LocalHome(home.root).server_fingerprint()
    home.prepare()
    assert not [p for p in home.root.rglob("*") if p.is_file() and "hush" in p.read_text(errors="replace")]


def test_the_default_code_location_reads_the_master_from_the_environment():
    resource = default_engine_resource({"ETL_ASSETS_SPARK_MASTER": " spark://10.0.0.5:7077 "})
    assert isinstance(resource, LocalPipelinesResource) and resource.master == "spark://10.0.0.5:7077"
    default = default_engine_resource({})
    assert isinstance(default, LocalPipelinesResource) and default.master is None


def test_a_defs_yaml_names_the_master_and_executor_settings(tmp_path):
    import textwrap
    import uuid

    from dagster.components.testing import DefsFolderSandbox

    from tests.conftest import write_project

    write_project(tmp_path, """
        pipelines:
          numbers: {name: numbers}
        tables:
          - {name: numbers_bronze, layer: bronze, source: {path: numbers}}
    """)
    package = f"cluster_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "src" / package / "defs" / "etl"
    folder.mkdir(parents=True)
    (folder / "defs.yaml").write_text(textwrap.dedent("""
        type: etl_assets.EtlAssetsComponent
        attributes:
          config_path: ../../../../config.yml
          engine:
            type: local
            home: /mnt/etl
            master: spark://spark-master.internal:7077
            spark_conf: {spark.executor.memory: 4g, spark.cores.max: "16", spark.dynamicAllocation.enabled: "false"}
    """).lstrip("\n"))
    sandbox = DefsFolderSandbox(project_root=tmp_path, defs_folder_path=folder.parent, project_name=package)
    with sandbox.load_component_and_build_defs(defs_path=folder) as (_, defs):
        engine = defs.resources["engine"]
    assert isinstance(engine, LocalPipelinesResource)
    assert engine.master == "spark://spark-master.internal:7077"
    # Quoted, as the block's fields are text: rendering makes "16" a number, which reaches Spark as text.
    assert engine.spark_conf == {"spark.executor.memory": "4g", "spark.cores.max": "16",
                                 "spark.dynamicAllocation.enabled": "false"}
