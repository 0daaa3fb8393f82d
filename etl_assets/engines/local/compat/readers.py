"""The Spark Connect readers of the pipeline client: Databricks names and Auto Loader.

`spark.read.table` / `spark.readStream.table` / `spark.table` take two- and three-part names
(mapped by `names.Names`; sample folders are read as files), `format("cloudFiles")` loads
through `autoloader`, `format("delta")` (and a `load` of a Delta table's folder without a
format, Databricks' default) reads the files of the table's version through `delta`, and every
`load` path naming a Unity Catalog volume (`/Volumes/...`) is read from the home's `volumes/`
folder (`volumes`). Patched in the client process only, by `install`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from etl_assets.engines.local.compat import autoloader, delta, volumes
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
                return autoloader.load(self, path, streaming, original_batch_load, side_session)
            return original(self, path, None, schema, **options)
        return load

    load_batch = loader(False, batch_load)
    load_stream = loader(True, stream_load)

    def table_batch(self: Any, tableName: str) -> Any:
        sample = names.sample(tableName)
        if sample is not None:
            fmt = names.sample_format(sample)
            return batch_load(self._client.read.format(fmt).options(**_sample_options(fmt)), str(sample))
        return batch_table(self, names.local(tableName))

    def table_stream(self: Any, tableName: str) -> Any:
        sample = names.sample(tableName)
        if sample is not None:
            fmt = names.sample_format(sample)
            options = _sample_options(fmt)
            schema = batch_load(side_session().read.format(fmt).options(**options), str(sample)).schema
            return stream_load(self._client.readStream.format(fmt).schema(schema).options(**options), str(sample))
        return stream_table(self, names.local(tableName))

    patches = [(DataFrameReader, "load", load_batch), (DataStreamReader, "load", load_stream),
               (DataFrameReader, "table", table_batch), (DataStreamReader, "table", table_stream)]
    saved = []
    for cls, attribute, replacement in patches:
        saved.append((cls, attribute, cls.__dict__[attribute]))
        setattr(cls, attribute, replacement)
    return saved


def _sample_options(fmt: str) -> dict[str, str]:
    """Reader options of a sample data set: CSV samples have a header line and typed columns."""
    return {"header": "true", "inferSchema": "true"} if fmt == "csv" else {}


@contextmanager
def batch_reads() -> Iterator[None]:
    """Streaming reads made batch reads while the block runs: `spark.readStream.table(t)` is
    `spark.read.table(t)` and `spark.readStream...load(p)` the same `spark.read...load(p)`.

    The local AUTO CDC target is recomputed from its whole change feed each run, so a view that
    reads its changes as a stream is also read once as a batch for it."""
    from pyspark.sql.connect.streaming.readwriter import DataStreamReader

    def table(self: Any, tableName: str) -> Any:
        return self._client.read.table(tableName)

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
