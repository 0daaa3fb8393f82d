"""Delta tables read by path on the local engine: the files of the table's version, not of its folder."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake

from etl_assets.engines.local.compat import delta
from etl_assets.engines.local.compat.errors import UnsupportedConstructError
from etl_assets.engines.local.compat.names import Names
from etl_assets.engines.local.compat.sql_names import rewritten


def _two_versions(path: Path) -> None:
    """Version 0 holds id 1 `old`; version 1 (an overwrite) ids 1 and 2. Both files stay."""
    write_deltalake(str(path), pa.table({"id": pa.array([1], pa.int64()), "t": ["old"]}))
    time.sleep(0.01)  # commit times in milliseconds: the versions' differ
    write_deltalake(str(path), pa.table({"id": pa.array([1, 2], pa.int64()), "t": ["a", "b"]}), mode="overwrite")


def _rows(files: list[str]) -> list[tuple]:
    table = pa.concat_tables([pq.read_table(f) for f in files])
    return sorted(zip(table.column("id").to_pylist(), table.column("t").to_pylist()))


def test_a_delta_snapshot_names_the_files_of_its_version_only(tmp_path: Path):
    _two_versions(tmp_path / "ref")
    assert len(list((tmp_path / "ref").glob("*.parquet"))) == 2  # the overwritten file is still there
    current = delta.snapshot(str(tmp_path / "ref"), "/Volumes/c/s/ref")
    assert _rows(current.files) == [(1, "a"), (2, "b")]
    assert current.schema.simpleString() == "struct<id:bigint,t:string>"
    assert current.partition_columns == []
    assert _rows(delta.snapshot(str(tmp_path / "ref"), "x", {"versionAsOf": "0"}).files) == [(1, "old")]
    # timestampAsOf as Spark writes it; the log's commit times decide the version
    first_commit = DeltaTable(str(tmp_path / "ref")).history()[-1]["timestamp"] / 1000
    at = datetime.fromtimestamp(first_commit, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    assert _rows(delta.snapshot(str(tmp_path / "ref"), "x", {"timestampAsOf": at}).files) == [(1, "old")]
    with pytest.raises(UnsupportedConstructError, match="timestampAsOf 'yesterday' is no timestamp"):
        delta.snapshot(str(tmp_path / "ref"), "x", {"timestampAsOf": "yesterday"})


def test_a_partitioned_delta_table_keeps_its_column_order(tmp_path: Path):
    write_deltalake(str(tmp_path / "p"), pa.table({"day": ["d1", "d2"], "n": pa.array([1, 2], pa.int64())}),
                    partition_by=["day"])
    found = delta.snapshot(str(tmp_path / "p"), "p")
    assert found.partition_columns == ["day"] and found.schema.fieldNames() == ["day", "n"]
    assert len(found.files) == 2 and all("day=" in f for f in found.files)


def test_what_cannot_be_read_as_delta_is_refused_with_the_reason(tmp_path: Path):
    (tmp_path / "plain").mkdir()
    pq.write_table(pa.table({"id": [1]}), tmp_path / "plain" / "part-0.parquet")
    with pytest.raises(UnsupportedConstructError, match=r"/Volumes/c/s/plain is read as a Delta table from .* no "
                                                         r"_delta_log folder"):
        delta.snapshot(str(tmp_path / "plain"), "/Volumes/c/s/plain")
    _two_versions(tmp_path / "ref")
    with pytest.raises(UnsupportedConstructError, match="readChangeFeed"):
        delta.snapshot(str(tmp_path / "ref"), "ref", {"readChangeFeed": "true"})
    with pytest.raises(UnsupportedConstructError, match="cannot be read locally"):
        delta.snapshot(str(tmp_path / "ref"), "ref", {"versionAsOf": "7"})
    with pytest.raises(UnsupportedConstructError, match="streaming read of the Delta table at ref"):
        delta.load(None, str(tmp_path / "ref"), "ref", True, None)
    assert delta.is_delta_folder(str(tmp_path / "ref")) and not delta.is_delta_folder(str(tmp_path / "plain"))


def test_delta_paths_in_sql_text_become_delta_reads():
    query, frames = rewritten("SELECT r.* FROM delta.`/Volumes/demo/loan_io/ref_accounting` r", Names()) or ("", {})
    assert query == "SELECT r.* FROM {__files_0} r"
    assert frames == {"__files_0": "spark.read.format('delta').load('/Volumes/demo/loan_io/ref_accounting')"}
    query, frames = rewritten("SELECT * FROM parquet.`/data/x.parquet` JOIN t USING (id)", Names()) or ("", {})
    assert query == "SELECT * FROM {__files_0} AS `x.parquet` JOIN t USING (id)"
    assert frames["__files_0"] == "spark.read.format('parquet').load('/data/x.parquet')"
    # A two-part table name is no file query.
    assert rewritten("SELECT * FROM delta.orders", Names()) is None


_DELTA_READS = """
from pyspark import pipelines as dp

@dp.materialized_view
def delta_py():
    return spark.read.format("delta").load("/Volumes/main/shop/ref/rates")

@dp.materialized_view
def delta_default_format():
    return spark.read.load("/Volumes/main/shop/ref/rates")

@dp.materialized_view
def delta_empty():
    return spark.read.format("delta").load("/Volumes/main/shop/ref/nothing_yet")
"""

_DELTA_SQL = """
CREATE OR REFRESH MATERIALIZED VIEW delta_sql AS
SELECT r.id, r.t FROM delta.`/Volumes/main/shop/ref/rates` r;
"""


@pytest.mark.slow
def test_delta_tables_by_path_in_a_pipeline(pipelines):
    _two_versions(pipelines.home.root / "volumes" / "main" / "shop" / "ref" / "rates")
    DeltaTable.create(str(pipelines.home.root / "volumes" / "main" / "shop" / "ref" / "nothing_yet"),
                      pa.schema([("id", pa.int64()), ("t", pa.string())]))
    config = pipelines.files_project("delta_project", {
        "transformations/reads.py": _DELTA_READS, "transformations/reads.sql": _DELTA_SQL}, """
        pipelines:
          dl: {libraries: [transformations/reads.py, transformations/reads.sql]}
        tables:
          - {name: delta_py, layer: bronze, pipeline: dl, file: transformations/reads.py}
          - {name: delta_default_format, layer: bronze, pipeline: dl, file: transformations/reads.py}
          - {name: delta_sql, layer: bronze, pipeline: dl, file: transformations/reads.sql}
          - {name: delta_empty, layer: bronze, pipeline: dl, file: transformations/reads.py}
        """)
    pipelines.ok(config)
    for table in ("delta_py", "delta_default_format", "delta_sql"):
        assert pipelines.rows(table) == [{"id": 1, "t": "a"}, {"id": 2, "t": "b"}], table
    assert pipelines.rows("delta_empty") == [] and pipelines.columns("delta_empty") == ["id", "t"]
