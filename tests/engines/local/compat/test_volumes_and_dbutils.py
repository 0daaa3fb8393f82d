"""Unity Catalog volume paths and the `dbutils` global on the local engine."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import pytest

from etl_assets.engines.local.compat import volumes
from etl_assets.engines.local.compat.dbutils import DBUtils
from etl_assets.engines.local.compat.errors import UnsupportedConstructError


def test_volume_paths_map_onto_the_home(tmp_path: Path):
    home = tmp_path / "home"
    assert volumes.local_path("/Volumes/main/s/raw/a.json", home) == str(home / "volumes/main/s/raw/a.json")
    assert volumes.local_path("dbfs:/Volumes/main/s/raw/", home) == str(home / "volumes/main/s/raw") + "/"
    assert volumes.local_path("/tmp/landing/x", home) == "/tmp/landing/x"
    assert volumes.local_paths(["/Volumes/c/s/v", "/data"], home) == [str(home / "volumes/c/s/v"), "/data"]
    with pytest.raises(UnsupportedConstructError, match="names no volume"):
        volumes.local_path("/Volumes/main/s", home)


def test_dbutils_fs_ls_and_mkdirs(tmp_path: Path):
    dbutils = DBUtils(tmp_path)
    assert dbutils.fs.mkdirs("/Volumes/main/s/raw_data/orders") is True
    (tmp_path / "volumes/main/s/raw_data/customers").mkdir()
    (tmp_path / "volumes/main/s/raw_data/readme.txt").write_text("hello")
    listing = dbutils.fs.ls("/Volumes/main/s/raw_data")
    assert [(f.name, f.path, f.size, f.isDir()) for f in listing] == [
        ("customers/", "/Volumes/main/s/raw_data/customers/", 0, True),
        ("orders/", "/Volumes/main/s/raw_data/orders/", 0, True),
        ("readme.txt", "/Volumes/main/s/raw_data/readme.txt", 5, False),
    ]
    assert [f.name for f in dbutils.fs.ls(str(tmp_path / "volumes/main/s/raw_data/orders"))] == []
    with pytest.raises(FileNotFoundError, match="/Volumes/main/s/nothing"):
        dbutils.fs.ls("/Volumes/main/s/nothing")


@pytest.mark.parametrize("call", ["fs.cp", "widgets", "secrets", "notebook"])
def test_other_dbutils_calls_are_refused_by_name(tmp_path: Path, call: str):
    target = DBUtils(tmp_path)
    first, _, rest = call.partition(".")
    with pytest.raises(UnsupportedConstructError, match=f"dbutils.{call} is not available on the local engine"):
        getattr(getattr(target, first), rest) if rest else getattr(target, first)


_PYTHON = """
from pyspark import pipelines as dp

catalog = spark.conf.get("catalog")
schema = spark.conf.get("schema")


def landing(name):
    @dp.table(name=f"vol_{name}")
    def raw():
        return (spark.readStream.format("cloudFiles").option("cloudFiles.format", "json")
                .option("cloudFiles.inferColumnTypes", "true")
                .load(f"/Volumes/{catalog}/{schema}/raw_data/{name}"))


for folder in dbutils.fs.ls(f"/Volumes/{catalog}/{schema}/raw_data"):
    landing(folder.name[:-1])


@dp.materialized_view(name="vol_batch")
def batch():
    return spark.read.format("json").load(f"/Volumes/{catalog}/{schema}/raw_data/orders")
"""

_SQL = """
CREATE OR REFRESH STREAMING TABLE vol_sql
AS SELECT * FROM STREAM read_files("/Volumes/${catalog}/${schema}/raw_data/customers", format => "json");
"""


@pytest.mark.slow
def test_volume_reads_and_dbutils_in_a_pipeline(pipelines):
    raw = pipelines.home.root / "volumes" / "main" / "shop" / "raw_data"
    for name, records in {"customers": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
                          "orders": [{"id": 10, "amount": 2.5}, {"id": 11, "amount": 4.0}, {"id": 12, "amount": 1.0}]
                          }.items():
        (raw / name).mkdir(parents=True)
        (raw / name / "part-0.json").write_text("".join(json.dumps(r) + "\n" for r in records))
    config = pipelines.files_project("volumes_project", {
        "transformations/landing.py": _PYTHON, "transformations/customers.sql": _SQL}, """
        pipelines:
          vol:
            libraries: [transformations/landing.py, transformations/customers.sql]
            configuration: {catalog: main, schema: shop}
        tables:
          - {name: vol_customers, layer: bronze, pipeline: vol, file: transformations/landing.py}
          - {name: vol_orders, layer: bronze, pipeline: vol, file: transformations/landing.py}
          - {name: vol_batch, layer: bronze, pipeline: vol, file: transformations/landing.py}
          - {name: vol_sql, layer: bronze, pipeline: vol, file: transformations/customers.sql}
        """)
    pipelines.ok(config)
    assert [r["id"] for r in pipelines.rows("vol_customers")] == [1, 2]
    assert [r["amount"] for r in pipelines.rows("vol_orders")] == [1.0, 2.5, 4.0]
    assert sorted(r["id"] for r in pipelines.rows("vol_batch")) == [10, 11, 12]
    assert [r["name"] for r in pipelines.rows("vol_sql")] == ["a", "b"]
    # The layer is installed in the run's process only: this process has no dbutils.
    assert not hasattr(builtins, "dbutils")


@pytest.mark.slow
def test_unsupported_dbutils_call_fails_the_run_with_its_name(pipelines):
    config = pipelines.project("vol_widgets", {
        "vol_widgets": """
            from pyspark import pipelines as dp

            source = dbutils.widgets.get("source")

            @dp.materialized_view
            def vol_widgets():
                return spark.range(1)
            """,
    })
    outcome = pipelines.run(config)
    assert outcome.returncode != 0
    assert "dbutils.widgets is not available on the local engine" in "\n".join(outcome.lines)
