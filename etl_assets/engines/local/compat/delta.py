"""Delta tables read by path on the local engine.

Databricks pipeline code reads Delta tables that live outside the pipeline by their path:
`spark.read.format("delta").load(path)`, `spark.read.load(path)` (Delta is Databricks' default
format) and, in SQL, ``delta.`/Volumes/...` ``. The local engine stores its own tables as
Parquet and its Spark server has no Delta data source, so the layer reads such a table itself:
the table's log (`_delta_log/`, read with the `deltalake` library) names the Parquet files of
the table's current version (or of `versionAsOf` / `timestampAsOf`, UTC unless the timestamp
says otherwise), and Spark reads exactly
those files with the schema the log records. Files a later commit removed, which stay in the
folder until a VACUUM, are not read.

Refused with the reason: streaming reads of a Delta path, the change data feed
(`readChangeFeed`), tables with column mapping or deletion vectors in use (their Parquet files
alone do not hold the table's rows), and a folder with no `_delta_log/`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from etl_assets.engines.local.compat.errors import UnsupportedConstructError

FORMAT = "delta"
_TIME_TRAVEL = ("versionasof", "timestampasof")
_REFUSED_OPTIONS = {"readchangefeed": "readChangeFeed", "readchangedata": "readChangeData"}


def is_delta(fmt: str | None) -> bool:
    """Whether a reader format names Delta."""
    return isinstance(fmt, str) and fmt.lower() == FORMAT


def is_delta_folder(path: Any) -> bool:
    """Whether `path` (a local path) is the folder of a Delta table: it has a `_delta_log/`."""
    return isinstance(path, str) and "://" not in path and (Path(path) / "_delta_log").is_dir()


def load(reader: Any, path: Any, written: Any, streaming: bool, original_load: Any) -> Any:
    """The DataFrame of the Delta table at `path` (already a local path; `written` as the code
    wrote it, for errors). `original_load(reader, paths)` is Spark's own `load`."""
    if streaming:
        raise UnsupportedConstructError(
            f"a streaming read of the Delta table at {written}: the local engine reads Delta tables by path as a "
            "batch only (it has no Delta streaming source); read it with spark.read in a materialized view, "
            "or land its rows as files and read them with Auto Loader")
    if not isinstance(path, str):
        raise UnsupportedConstructError(f"a Delta read of {written!r}: a Delta table is read from one path")
    found = snapshot(path, written, dict(reader._options))
    session = reader._client
    if not found.files:
        return session.createDataFrame([], found.schema)
    parquet = session.read.format("parquet").schema(found.schema)
    if found.partition_columns:
        parquet = parquet.option("basePath", path)
    # Spark puts partition columns last; the log's order is the table's.
    return original_load(parquet, found.files).select(*[f"`{name}`" for name in found.schema.fieldNames()])


@dataclass(frozen=True)
class Snapshot:
    """One version of a Delta table: its schema (a Spark `StructType`), the Parquet files that
    hold its rows, and its partition columns."""

    schema: Any
    files: list[str]
    partition_columns: list[str]


def snapshot(path: str, written: Any, reader_options: dict[str, Any] | None = None) -> Snapshot:
    """The version of the Delta table at `path` a reader with `reader_options` reads (the
    current one unless `versionAsOf` / `timestampAsOf`)."""
    options = {key.lower(): value for key, value in (reader_options or {}).items()}
    for key, option in _REFUSED_OPTIONS.items():
        if str(options.get(key, "false")).lower() == "true":
            raise UnsupportedConstructError(f"a Delta read of {written} with {option}: the local engine does not "
                                            "read the change data feed of a Delta table")
    table = open_table(path, written, options)
    return Snapshot(_schema(table), list(table.file_uris()), list(table.metadata().partition_columns))


def open_table(path: str, written: Any, options: dict[str, Any] | None = None) -> Any:
    """The `deltalake.DeltaTable` at `path`, at the version the reader options ask for; an
    `UnsupportedConstructError` naming the table when it cannot be read locally."""
    try:
        from deltalake import DeltaTable
        from deltalake.exceptions import DeltaError, TableNotFoundError
    except ImportError:  # pragma: no cover - an install without the `local` extra
        raise UnsupportedConstructError(
            f"a Delta read of {written}: the local engine reads Delta tables with the deltalake package; install "
            "etl-assets[local]") from None
    options = options or {}
    if not is_delta_folder(path):
        raise UnsupportedConstructError(
            f"{written} is read as a Delta table from {path}, which has no _delta_log folder: put the Delta "
            f"table's folder there (its Parquet files and _delta_log/), or read the files with their own format "
            f"(format(\"parquet\"), format(\"json\"), ...)")
    try:
        table = DeltaTable(path, version=int(options["versionasof"])) if "versionasof" in options \
            else DeltaTable(path)
        if "timestampasof" in options:
            table.load_as_version(_timestamp(options["timestampasof"]))
    except (DeltaError, TableNotFoundError, ValueError) as exc:
        raise UnsupportedConstructError(f"the Delta table at {written} ({path}) cannot be read locally: {exc}") from None
    _require_plain_files(table, written)
    return table


def _timestamp(value: Any) -> datetime:
    """A `timestampAsOf` value as Spark takes it (`2024-05-01`, `2024-05-01 10:00:00`, ISO 8601);
    without a time zone it is UTC."""
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise UnsupportedConstructError(f"timestampAsOf {value!r} is no timestamp: write it as 2024-05-01 or "
                                        "2024-05-01 10:00:00") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _require_plain_files(table: Any, written: Any) -> None:
    """Refuse a table whose Parquet files alone do not give its rows."""
    mode = (table.metadata().configuration or {}).get("delta.columnMapping.mode", "none")
    if mode != "none":
        raise UnsupportedConstructError(
            f"the Delta table at {written} uses column mapping (delta.columnMapping.mode = {mode}): its Parquet "
            "files hold other column names than the table's, and the local engine reads the files as they are")
    features = table.protocol().reader_features or []
    if "deletionVectors" in features:
        import pyarrow as pa

        actions = pa.table(table.get_add_actions(flatten=True))
        columns = [name for name in actions.column_names if name.startswith("deletionVector")]
        if any(value is not None for name in columns for value in actions.column(name).to_pylist()):
            raise UnsupportedConstructError(
                f"the Delta table at {written} has deletion vectors: rows deleted from its Parquet files are "
                "recorded beside them, and the local engine reads the files as they are; run "
                "`REORG TABLE ... APPLY (PURGE)` on it where it was written, or give the local run a copy without")


def _schema(table: Any) -> Any:
    from pyspark.sql.types import StructType

    # The log records the schema in Spark's own JSON form.
    return StructType.fromJson(json.loads(table.schema().to_json()))
