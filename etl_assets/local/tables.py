"""Reading local tables' rows straight from their Parquet files (no Spark session needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from etl_assets.errors import EtlAssetsError


def read_rows(location: Path, limit: int | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and up to `limit` rows of the table stored at `location`."""
    import pyarrow.dataset as ds

    files = sorted(p for p in location.rglob("*.parquet") if not p.name.startswith((".", "_"))) if location.exists() else []
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
    return sum(pq.read_metadata(f).num_rows for f in location.rglob("*.parquet") if not f.name.startswith((".", "_")))
