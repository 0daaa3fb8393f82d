"""Reading local tables' rows straight from their Parquet files (no Spark session needed)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from etl_assets.conventions import is_data_file
from etl_assets.errors import EtlAssetsError


def read_rows(location: Path, limit: int | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and up to `limit` rows of the table stored at `location`."""
    import pyarrow.dataset as ds

    files = sorted(parquet_files(location))
    if not files:
        raise EtlAssetsError(
            f"no data at {location}: the table has not been materialized on the local engine yet "
            "(run `dagster asset materialize -m etl_assets.definitions --select '*'` or `bash bin/demo`)"
        )
    dataset = ds.dataset([str(f) for f in files], format="parquet")
    table = dataset.head(limit) if limit is not None else dataset.to_table()
    return table.column_names, table.to_pylist()


def count_rows(location: Path) -> int | None:
    """Rows in a table's Parquet files, from their footers; None when nothing is stored."""
    import pyarrow.parquet as pq

    if not location.exists():
        return None
    return sum(pq.read_metadata(f).num_rows for f in parquet_files(location))


def parquet_files(location: Path) -> dict[Path, int]:
    """The data files of a table with their modification times (to tell new files apart)."""
    if not location.exists():
        return {}
    return {p: p.stat().st_mtime_ns for p in location.rglob("*.parquet") if is_data_file(p.name)}


def table_version(location: Path) -> str | None:
    """The table's last commit: it changes each time Spark commits a write, and only then.

    A streaming table's commit is the newest entry of its `_spark_metadata` log, a batch-written
    one is its `_SUCCESS` marker; the modification time tells a rewrite (or a full refresh
    starting over at batch 0) apart. None while nothing is committed.
    """
    log = location / "_spark_metadata"
    if log.is_dir():
        batches = [(int(p.name.split(".")[0]), p) for p in log.iterdir() if p.name.split(".")[0].isdigit()]
        if not batches:
            return None
        number, entry = max(batches)
        return f"batch:{number}:{entry.stat().st_mtime_ns}"
    marker = location / "_SUCCESS"
    if marker.is_file():
        return f"commit:{marker.stat().st_mtime_ns}"
    return None


def version_time(version: str) -> float:
    """When the commit a `table_version` names was made, in seconds since the epoch."""
    return int(version.rsplit(":", 1)[1]) / 1e9


def rule_counts(location: Path, before: dict[Path, int]) -> dict[str, tuple[int, int]]:
    """(passed, failed) per rule column, over the files written since `before` was taken."""
    import pyarrow.parquet as pq

    counts: dict[str, list[int]] = {}
    for path, mtime in parquet_files(location).items():
        if before.get(path) == mtime:
            continue
        data = pq.read_table(path)
        for name in data.column_names:
            values = data.column(name).to_pylist()
            passed = sum(1 for v in values if v is True)
            total = counts.setdefault(name, [0, 0])
            total[0] += passed
            total[1] += len(values) - passed
    return {name: (p, f) for name, (p, f) in counts.items()}


def is_streaming_output(location: Path) -> bool:
    """Whether a table is written by a streaming file sink (it keeps a `_spark_metadata` log)."""
    return (location / "_spark_metadata").is_dir()


def snapshot(location: Path, destination: Path) -> bool:
    """Hard-link a table's files into `destination` (no data copied); False if nothing stored.

    Spark replaces files rather than changing them, so the links keep the previous version
    readable after an overwrite deleted it from the table's folder.
    """
    if not location.is_dir():
        return False
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(location, destination, copy_function=os.link)
    return True


def restore(location: Path, saved: Path) -> None:
    """Put a snapshot back in place of the table's current files."""
    shutil.rmtree(location, ignore_errors=True)
    shutil.copytree(saved, location, copy_function=os.link)
