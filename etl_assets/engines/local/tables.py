"""Reading local tables' rows straight from their Parquet files (no Spark session needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from etl_assets.conventions import is_data_file
from etl_assets.engines.local.home import LocalHome
from etl_assets.errors import DataError


def read_rows(location: Path, limit: int | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and up to `limit` rows of the table stored at `location`, the files Spark
    reads (a streaming table's commit log says which)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    files = data_files(location)
    if not files:
        raise DataError(
            f"no data at {location}: the table has not been materialized on the local engine yet "
            "(run `dagster asset materialize -m etl_assets.definitions --select '*'` or `bash bin/demo`)"
        )
    try:
        dataset = ds.dataset([str(f) for f in files], format="parquet")
        table = dataset.head(limit) if limit is not None else dataset.to_table()
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"cannot read the table at {location}: {exc}. Remove files that are not the table's "
                        "(Spark writes only part-*.parquet), or rebuild it with a full refresh") from None
    return table.column_names, table.to_pylist()


def count_rows(location: Path) -> int | None:
    """Rows of the table as Spark sees it, from the Parquet footers; None when nothing is stored
    or a file cannot be read (a count that may be wrong is not given)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not location.exists():
        return None
    try:
        return sum(pq.read_metadata(f).num_rows for f in data_files(location))
    except (pa.ArrowInvalid, OSError):
        return None


def columns(location: Path) -> list[dict[str, str]] | None:
    """The table's columns as Spark wrote them (names, Spark SQL types, comments), from the
    footer of its newest data file; None when nothing is stored or the footer cannot be read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not location.exists():
        return None
    try:
        files = data_files(location)
        if not files:
            return None
        schema = pq.read_schema(max(files, key=lambda f: f.stat().st_mtime_ns))
    except (pa.ArrowInvalid, OSError):
        return None
    spark = (schema.metadata or {}).get(b"org.apache.spark.sql.parquet.row.metadata")
    if spark:
        try:
            fields = json.loads(spark)["fields"]
        except (ValueError, KeyError, TypeError):
            fields = None
        if fields:
            found = []
            for f in fields:
                column = {"name": f["name"], "type": _spark_type(f["type"])}
                comment = (f.get("metadata") or {}).get("comment")
                if comment:
                    column["description"] = comment
                found.append(column)
            return found
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def _spark_type(kind: Any) -> str:
    # Spark's schema JSON: a name ("long", "decimal(10,2)") or a struct, array or map object.
    if isinstance(kind, str):
        return {"long": "bigint", "integer": "int", "short": "smallint", "byte": "tinyint"}.get(kind, kind)
    if kind.get("type") == "array":
        return f"array<{_spark_type(kind['elementType'])}>"
    if kind.get("type") == "map":
        return f"map<{_spark_type(kind['keyType'])},{_spark_type(kind['valueType'])}>"
    if kind.get("type") == "struct":
        return "struct<" + ",".join(f"{f['name']}:{_spark_type(f['type'])}" for f in kind.get("fields", [])) + ">"
    return str(kind.get("type", kind))


def data_files(location: Path) -> list[Path]:
    """The Parquet files that make up the table now.

    A streaming table (file sink) is what its `_spark_metadata` log lists: files a failed or
    repeated batch left in the folder are not part of it. Other tables are every data file.
    """
    log = location / "_spark_metadata"
    if not log.is_dir():
        return sorted(parquet_files(location))
    batches: dict[int, Path] = {}
    for entry in log.iterdir():
        number, _, kind = entry.name.partition(".")
        if number.isdigit() and kind in ("", "compact"):
            batches[int(number)] = entry
    compacted = [n for n, e in batches.items() if e.name.endswith(".compact")]
    start = max(compacted) if compacted else 0
    live: dict[str, Path] = {}
    for batch in sorted(n for n in batches if n >= start):
        for line in batches[batch].read_text(encoding="utf-8").splitlines()[1:]:  # first line: log version
            if not line.strip():
                continue
            record = json.loads(line)
            path = Path(unquote(urlparse(record["path"]).path))
            if not path.exists():
                path = location / path.name  # the home was moved: the file keeps its name
            if record.get("action", "add") == "delete":
                live.pop(path.name, None)
            else:
                live[path.name] = path
    return sorted(live.values())


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


def describe_version(version: str) -> str:
    """A `table_version` as a person reads it: `batch 3 at 2026-11-30 10:00:00 UTC` (a streaming
    table's commit) or `written at 2026-11-30 10:00:00 UTC` (a batch-written one)."""
    from datetime import datetime, timezone

    when = datetime.fromtimestamp(version_time(version), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    kind, _, rest = version.partition(":")
    if kind == "batch":
        return f"batch {rest.split(':')[0]} at {when}"
    return f"written at {when}"


def version_time(version: str) -> float:
    """When the commit a `table_version` names was made, in seconds since the epoch."""
    return int(version.rsplit(":", 1)[1]) / 1e9


def rule_counts(location: Path, before: dict[Path, int]) -> tuple[dict[str, tuple[int, int]], int, bool]:
    """(passed, failed) per rule column over the files written since `before` was taken, the
    rows in those files, and whether the rule columns are known.

    An update that wrote no rows still knows the rules: they are the companion's columns, read
    from its newest file, and each gets (0, 0). A rule missing then is one the code does not
    declare, not one without rows.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    counts: dict[str, list[int]] = {}
    rows = 0
    files = parquet_files(location)
    new = [path for path, mtime in files.items() if before.get(path) != mtime]
    for path in new:
        data = pq.read_table(path)
        rows += data.num_rows
        for name in data.column_names:
            # The sum of a boolean column counts its true values (a null is not a pass).
            passed = pc.sum(data.column(name)).as_py() or 0
            total = counts.setdefault(name, [0, 0])
            total[0] += passed
            total[1] += data.num_rows - passed
    known = bool(new)
    if not new and files:
        newest = max(files, key=lambda p: files[p])
        for name in pq.read_schema(newest).names:
            counts.setdefault(name, [0, 0])
        known = True
    return {name: (p, f) for name, (p, f) in counts.items()}, rows, known


def committed_since(home: LocalHome, pipeline_key: str, table: str, since_ns: int) -> bool:
    """Whether Spark committed a write of the table after `since_ns` (nanoseconds since the epoch).

    A batch write commits with its `_SUCCESS` marker. A streaming write commits batch N when its
    checkpoint holds `commits/N` for every `offsets/N`: a batch planned but not committed means
    the stream failed part-way.
    """
    location = home.table_location(table)
    checkpoints = home.checkpoints(pipeline_key, table)
    if not checkpoints:
        marker = location / "_SUCCESS"
        return marker.is_file() and marker.stat().st_mtime_ns >= since_ns
    if not (location / "_spark_metadata").is_dir():
        return False
    for root in checkpoints:
        for offsets in root.rglob("offsets"):
            planned = {p.name for p in offsets.iterdir() if p.name.isdigit()}
            done = {p.name for p in (offsets.parent / "commits").iterdir() if p.name.isdigit()} \
                if (offsets.parent / "commits").is_dir() else set()
            if planned - done:
                return False
    return True
