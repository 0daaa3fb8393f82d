"""The Spark Connect readers of the pipeline client: Databricks names and Auto Loader.

`spark.read.table` / `spark.readStream.table` / `spark.table` take two- and three-part names
(mapped by `names.Names`; sample folders are read as files), `format("cloudFiles")` loads
through `autoloader`, `format("delta")` (and a `load` of a Delta table's folder without a
format, Databricks' default) reads the files of the table's version through `delta`, and every
`load` path naming a Unity Catalog volume (`/Volumes/...`) is read from the home's `volumes/`
folder (`volumes`). Patched in the client process only, by `install`.

`option("readChangeFeed", "true")` (a Delta table's change data feed) is answered for sample
data sets: a sample folder is a table of one commit, version 0, written when its newest file
was, so its change feed is each row inserted at version 0 (`_change_type` `insert`,
`_commit_version` 0, `_commit_timestamp` that time), as Delta gives for a table created with
the feed on. Other tables have no change feed locally (no Delta): refused with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from etl_assets.engines.local.compat import autoloader, delta, volumes
from etl_assets.engines.local.compat.errors import UnsupportedConstructError
from etl_assets.engines.local.compat.names import Names


def install(names: Names, side_session: Any) -> list[tuple[Any, str, Any]]:
    """Patch the readers; returns (class, attribute, original) for each patched method.

    `side_session()` gives a session outside the pipeline's analysis context, where file
    schemas can be inferred (analysis is refused inside a query function)."""
    from pyspark.sql.connect.readwriter import DataFrameReader
    from pyspark.sql.connect.streaming.readwriter import DataStreamReader

    batch_load = DataFrameReader.load
    stream_load = DataStreamReader.load
    batch_table = DataFrameReader.table
    stream_table = DataStreamReader.table

    def original_batch_load(reader: Any, paths: list[str]) -> Any:
        return batch_load(reader, paths if len(paths) > 1 else paths[0])

    def loader(streaming: bool, original: Any) -> Any:
        def load(self: Any, path: Any = None, format: str | None = None, schema: Any = None, **options: Any) -> Any:
            volumes.require_copy(path, names.home)
            written, path = path, volumes.local_paths(path, names.home)
            if format is not None:
                self.format(format)
            if delta.is_delta(self._format) or (self._format is None and delta.is_delta_folder(path)):
                self.options(**options)
                return delta.load(self, path, written, streaming, original_batch_load)
            if autoloader.is_cloud_files(self._format):
                if schema is not None:
                    self.schema(schema)
                self.options(**options)
                return autoloader.load(self, path, streaming, original_batch_load, side_session, names.home)
            return original(self, path, None, schema, **options)
        return load

    load_batch = loader(False, batch_load)
    load_stream = loader(True, stream_load)

    def table_batch(self: Any, tableName: str) -> Any:
        sample = names.sample(tableName)
        feed = _reads_change_feed(self, tableName, sample)
        if sample is not None:
            fmt = names.sample_format(sample)
            df = batch_load(self._client.read.format(fmt).options(**_sample_options(fmt)), str(sample))
            return _one_commit_feed(df, sample) if feed else df
        return batch_table(self, names.local(tableName))

    def table_stream(self: Any, tableName: str) -> Any:
        sample = names.sample(tableName)
        feed = _reads_change_feed(self, tableName, sample)
        if sample is not None:
            fmt = names.sample_format(sample)
            options = _sample_options(fmt)
            schema = batch_load(side_session().read.format(fmt).options(**options), str(sample)).schema
            df = stream_load(self._client.readStream.format(fmt).schema(schema).options(**options), str(sample))
            return _one_commit_feed(df, sample) if feed else df
        return stream_table(self, names.local(tableName))

    patches = [(DataFrameReader, "load", load_batch), (DataStreamReader, "load", load_stream),
               (DataFrameReader, "table", table_batch), (DataStreamReader, "table", table_stream)]
    saved = []
    for cls, attribute, replacement in patches:
        saved.append((cls, attribute, cls.__dict__[attribute]))
        setattr(cls, attribute, replacement)
    return saved


def _reads_change_feed(reader: Any, table: str, sample: Path | None) -> bool:
    """Whether `reader` has `readChangeFeed` on; refused for a table that is no sample data set."""
    feed = any(k.lower() == "readchangefeed" and str(v).lower() == "true" for k, v in reader._options.items())
    if feed and sample is None:
        raise UnsupportedConstructError(
            f"readChangeFeed of '{table}': the local engine has no Delta change data feed. A sample data set "
            f"(files under <home>/samples/<catalog>/<schema>/<table>/) is read as one commit whose feed is every "
            f"row inserted; put the table's rows there, or read the table without readChangeFeed")
    return feed


def _one_commit_feed(df: Any, sample: Path) -> Any:
    """The change feed of a sample data set: each row inserted at version 0, when its files were written."""
    from pyspark.sql import functions as F

    newest = max((p.stat().st_mtime for p in sample.rglob("*") if p.is_file()), default=0.0)
    return df.withColumns({
        "_change_type": F.lit("insert"),
        "_commit_version": F.lit(0).cast("bigint"),
        "_commit_timestamp": F.lit(datetime.fromtimestamp(newest, tz=timezone.utc)),
    })


def _sample_options(fmt: str) -> dict[str, str]:
    """Reader options of a sample data set: CSV samples have a header line and typed columns."""
    return {"header": "true", "inferSchema": "true"} if fmt == "csv" else {}


@contextmanager
def batch_reads(batch_frame: Callable[[str], Any] | None = None) -> Iterator[None]:
    """Streaming reads made batch reads while the block runs: `spark.readStream.table(t)` is
    `spark.read.table(t)` (with the reader's options), or `batch_frame(t)` when that gives a
    DataFrame (a view of the pipeline, read as a batch too), and `spark.readStream...load(p)` the
    same `spark.read...load(p)`.

    The local AUTO CDC target is recomputed from its whole change feed each run, so a view that
    reads its changes as a stream is also read once as a batch for it."""
    from pyspark.sql.connect.streaming.readwriter import DataStreamReader

    def table(self: Any, tableName: str) -> Any:
        found = batch_frame(tableName) if batch_frame is not None else None
        if found is not None:
            return found
        return self._client.read.options(**self._options).table(tableName)

    def load(self: Any, path: str | None = None, format: str | None = None, schema: Any = None,
             **options: Any) -> Any:
        reader = self._client.read.format(format or self._format).options(**{**self._options, **options})
        if schema is not None or self._schema:
            reader = reader.schema(schema if schema is not None else self._schema)
        return reader.load(path)

    saved = [(name, DataStreamReader.__dict__[name]) for name in ("table", "load")]
    DataStreamReader.table = table  # type: ignore[method-assign]
    DataStreamReader.load = load  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, original in saved:
            setattr(DataStreamReader, name, original)
