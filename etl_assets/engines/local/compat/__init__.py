"""Databricks pipeline code on the local engine: installed by the pipeline client, in its process only.

`install(spark)` runs before the pipeline's files are loaded and `finish()` after, so user code
stays as it is written for Databricks:

- `import dlt` and `from pyspark import pipelines as dp` give the Databricks surface: `table`
  (a streaming table over a streaming query, a materialized view over a batch one),
  `materialized_view`, `view` / `temporary_view`, `read`, `read_stream`, the `expect*`
  decorators (in any order around the dataset decorator; per-rule results go to the companion
  dataset `etl_quality__<name>`, as `etl_assets.ldp` expectations do), `create_streaming_table`
  (`create_target_table`), `append_flow` (several into one table run as one streaming union:
  open-source Spark's file sink would skip the rows of all but one),
  `create_auto_cdc_flow` / `apply_changes` and their snapshot forms (`cdc`).
- `format("cloudFiles")` reads with Spark's file source (`autoloader`).
- Unity Catalog volume paths `/Volumes/<c>/<s>/<v>/...` are read from
  `<home>/volumes/<c>/<s>/<v>/...` by every file read (`volumes`), and a `dbutils` global with
  `fs.ls` and `fs.mkdirs` over the same mapping is there for the pipeline's code (`dbutils`);
  other `dbutils` calls raise an error naming them. `display(...)` and `displayHTML(...)`
  globals do nothing (`notebook`): a pipeline update has no cell output.
- Spark Connect's `withColumn(s)`, `drop` and `withColumn(s)Renamed` keep a flow's dependencies
  (`lazy_columns`).
- `df.columns`, `df.schema`, `df.dtypes`, `df.printSchema()` inside a query function are answered
  from the datasets' own queries, first run included (`analysis`).
- `from databricks.sdk.runtime import spark, dbutils, display` gives the run's objects (`runtime`).
- `/databricks-datasets/...` and `dbfs:/...` paths are read from `<home>/databricks-datasets/`
  and `<home>/dbfs/` (`volumes`).
- Delta tables read by path (`format("delta")`, `load` of a Delta folder, SQL ``delta.`path` ``)
  read the Parquet files their log names (`delta`); the engine's own tables stay Parquet.
- Importing dlt-meta / sdp-meta is refused with the reason (their datasets come from workspace
  tables at run time).

Names. The local Hive catalog has one catalog (`spark_catalog`); the pipeline's catalog and
schema (spec `catalog`/`database`, or configuration `etl_assets.catalog` / `etl_assets.schema`)
are the local `default` database, where the engine finds its tables:

==============================  ===================================================
name in pipeline code           local name
==============================  ===================================================
`t`                             `t` (the pipeline's default database)
`<pipeline schema>.t`           `t`
`<pipeline catalog>.<pipeline schema>.t`  `t`
`s.t`, `<pipeline catalog>.s.t`  `spark_catalog.s.t` (database `s`, created on demand)
`spark_catalog.s.t`, `hive_metastore.s.t`  `spark_catalog.s.t` (`default`: `t`)
`c.s.t` (another catalog)       `spark_catalog.c__s.t` (database `c__s`, created on demand)
`c.s.t` with a folder           files of `<home>/samples/c/s/t/` (parquet, csv with a header,
`<home>/samples/c/s/t/`         or json), read-only: `samples.nyctaxi.trips` and the like
==============================  ===================================================

Reads map names in `spark.read.table`, `spark.readStream.table`, `spark.table`, `dlt.read`
and `dlt.read_stream`, and names inside query text of `spark.sql` (`sql_names`).

Databricks arguments without a local meaning are accepted and ignored where that changes no
result (`table_properties`, `cluster_by`, `cluster_by_auto`, `private`, `temporary`, Auto
Loader's schema tracking and notification options, `spark.conf.set("pipelines.<setting>", ...)`
while a file loads); `spark_conf`, `partition_cols` and
`schema` are applied. Arguments whose effect cannot be had locally are refused with an
`UnsupportedConstructError` naming them: `path=`, `row_filter=`, `foreach_batch_sink`,
`append_flow(once=True)` (open-source Spark 4.3 rejects one-time flows),
`cloudFiles.includeExistingFiles=false`, `cloudFiles.cleanSource`, AUTO CDC SCD type 2 from a
snapshot table, expectations on an AUTO CDC target, two AUTO CDC flows into one target. A query
function that runs a query of a DataFrame while the pipeline is defined (`collect()`, `count()`:
open-source Spark's ATTEMPT_ANALYSIS_IN_PIPELINE_QUERY_FUNCTION) fails with an error naming the
dataset and the fix. See docs/compatibility.md.
"""

from __future__ import annotations

import builtins
import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from etl_assets.engines.local.compat import analysis, cdc, lazy_columns, notebook, readers, runtime, sql_names
from etl_assets.engines.local.compat.dbutils import DBUtils
from etl_assets.engines.local.compat.definitions import Definitions, remember_original
from etl_assets.engines.local.compat.errors import UnsupportedConstructError
from etl_assets.engines.local.compat.names import Names
from etl_assets.ldp import cdc as ldp_cdc

_API = ("table", "materialized_view", "view", "temporary_view", "create_streaming_table", "create_target_table",
        "append_flow", "read", "read_stream", "expect", "expect_or_drop", "expect_or_fail", "expect_all",
        "expect_all_or_drop", "expect_all_or_fail", "create_auto_cdc_flow", "apply_changes",
        "create_auto_cdc_from_snapshot_flow", "apply_changes_from_snapshot", "create_sink", "foreach_batch_sink")


class Layer:
    """The installed layer of one run."""

    def __init__(self, definitions: Definitions, patches: list[tuple[Any, str, Any]], modules: dict[str, Any]):
        self.definitions = definitions
        self.patches = patches
        self.modules = modules

    def finish(self) -> None:
        """Register the definitions collected while the files were loaded."""
        self.definitions.finish()

    def selection(self, datasets: Sequence[str], *, private: bool = False) -> list[str]:
        """`datasets` with the quality companion of each one that registered expectations; with
        `private`, also the pipeline's private tables (`private=True`, SQL `TEMPORARY` /
        `PRIVATE`): published nowhere, they are no assets of their own and are refreshed with
        every selection of their pipeline, so the tables reading them find them up to date."""
        registered = set(self.definitions.datasets)
        chosen: list[str] = []
        hidden = [name for name, dataset in self.definitions.datasets.items()
                  if private and dataset.private and dataset.kind != "view"]
        for name in [*datasets, *hidden]:
            local = self.definitions.names.local(name)
            if local not in registered:
                # A config table whose code names it with its schema: the one dataset of that name.
                matches = [d for d in registered if self.definitions.names.parts(d)[-1] == local]
                local = matches[0] if len(matches) == 1 else local
            for dataset in (local, self.definitions.companions.get(local)):
                if dataset and dataset not in chosen:
                    chosen.append(dataset)
        return chosen

    def uninstall(self) -> None:
        """Put back what `install` replaced (tests load several pipelines in one process)."""
        for owner, attribute, original in reversed(self.patches):
            if original is None:
                if hasattr(owner, attribute):
                    delattr(owner, attribute)
            else:
                setattr(owner, attribute, original)
        for name, previous in self.modules.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous


_ACTIVE: Layer | None = None


def install(spark: Any, spec: Any = None, remote: str | None = None, full_refresh: Sequence[str] = ()) -> Layer:
    """Install the layer for a run on `spark` (before the pipeline's files are loaded); `remote`
    is the Spark Connect address of `spark`'s server, where the layer opens its side session;
    `full_refresh` names the datasets the run refreshes in full.

    >>> layer = install(spark, spec, remote="sc://localhost:15002/;token=...")   # doctest: +SKIP
    """
    global _ACTIVE
    import pyspark.pipelines as dp

    if _ACTIVE is not None:
        _ACTIVE.uninstall()
    configuration = dict(getattr(spec, "configuration", {}) or {})
    names = Names.from_configuration(configuration, getattr(spec, "catalog", None), getattr(spec, "database", None))
    # Databases are created from a session of its own: the run's session is inside the
    # pipeline's analysis context while files load.
    side_session = _side_session(remote)
    definitions = Definitions(spark, names, side_session)
    definitions.full_refresh = {names.local(name) for name in full_refresh}
    functions: dict[str, Any] = {
        "table": definitions.table, "materialized_view": definitions.materialized_view,
        "view": definitions.view, "temporary_view": definitions.view,
        "create_streaming_table": definitions.create_streaming_table,
        "create_target_table": definitions.create_streaming_table,
        "append_flow": definitions.append_flow, "read": definitions.read, "read_stream": definitions.read_stream,
        "expect": definitions.expect, "expect_or_drop": definitions.expect_or_drop,
        "expect_or_fail": definitions.expect_or_fail, "expect_all": definitions.expect_all,
        "expect_all_or_drop": definitions.expect_all_or_drop, "expect_all_or_fail": definitions.expect_all_or_fail,
        "create_auto_cdc_flow": cdc.create_auto_cdc_flow(definitions),
        "apply_changes": cdc.create_auto_cdc_flow(definitions),
        "create_auto_cdc_from_snapshot_flow": cdc.create_auto_cdc_from_snapshot_flow(definitions),
        "apply_changes_from_snapshot": cdc.create_auto_cdc_from_snapshot_flow(definitions),
        "create_sink": definitions.create_sink, "foreach_batch_sink": definitions.foreach_batch_sink,
    }
    patches: list[tuple[Any, str, Any]] = []
    for name in _API:
        original = getattr(dp, name, None)
        if original is not None:
            remember_original(name, original)
        patches.append((dp, name, original))
        setattr(dp, name, functions[name])
    module = types.ModuleType("dlt", "Databricks' pipeline API on the local engine (etl_assets compatibility layer)")
    module.__dict__.update(functions)
    modules = {name: sys.modules.get(name) for name in ("dlt", runtime.NAME)}
    sys.modules["dlt"] = module
    patches.append((ldp_cdc, "_LOCAL_TARGET", ldp_cdc._LOCAL_TARGET))
    ldp_cdc._LOCAL_TARGET = cdc.local_targets(definitions)
    patches += readers.install(names, side_session)
    patches += lazy_columns.install()
    patches += sql_names.install(names)
    patches += analysis.install(analysis.Analysis(definitions, side_session))
    # Databricks gives pipeline code a `dbutils` global: here a builtin of the run's process.
    patches.append((builtins, "dbutils", getattr(builtins, "dbutils", None)))
    builtins.dbutils = DBUtils(names.home)  # type: ignore[attr-defined]
    # `from databricks.sdk.runtime import spark, dbutils, display` (the bundle templates' way).
    sys.modules[runtime.NAME] = runtime.module(spark, builtins.dbutils)  # type: ignore[attr-defined]
    # Notebook output (`display`, `displayHTML`) has nothing to show in a pipeline update.
    for name, function in notebook.functions().items():
        patches.append((builtins, name, getattr(builtins, name, None)))
        setattr(builtins, name, function)
    # Metadata-driven frameworks (dlt-meta, sdp-meta) are refused with the reason when imported.
    patches.append((sys, "meta_path", list(sys.meta_path)))
    sys.meta_path.insert(0, _MetadataDrivenRefused())
    _ACTIVE = Layer(definitions, patches, modules)
    return _ACTIVE


class _MetadataDrivenRefused:
    """Refuses the import of a metadata-driven pipeline framework, saying why."""

    _MODULES = {"dlt_meta": "dlt-meta", "databricks.labs.sdp_meta": "databricks-labs-sdp-meta"}

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        for module, package in self._MODULES.items():
            if name == module or name.startswith(module + "."):
                from etl_assets.translation.sources import METADATA_DRIVEN_REFUSAL

                raise UnsupportedConstructError(f"import {name}: " + METADATA_DRIVEN_REFUSAL.format(package=package))
        return None


def _side_session(remote: str | None) -> Any:
    """A factory of one more session on the run's server (at `remote`), made on first use."""
    made: list[Any] = []

    def session() -> Any:
        if not made:
            from pyspark.sql import SparkSession

            if remote is None:
                raise RuntimeError("compat.install(spark, spec, remote=...) needs the server's Spark Connect "
                                   "address to open a side session")
            made.append(SparkSession.builder.remote(remote).create())
        return made[0]
    return session


PIPELINE_SETTINGS = "pipelines."


@contextmanager
def pipeline_settings_accepted() -> Iterator[None]:
    """While a pipeline file loads (inside Spark's `block_session_mutations`), accept and ignore
    `spark.conf.set("pipelines.<setting>", value)`.

    Databricks pipeline code may set its pipeline's own settings this way (the unit-test demo
    sets `pipelines.incompatibleViewCheck.enabled`); they steer Databricks' pipeline service and
    have no local meaning. Any other key stays refused by Spark
    (SESSION_MUTATION_IN_DECLARATIVE_PIPELINE): set it in the pipeline's `configuration:`."""
    from pyspark.sql.connect.conf import RuntimeConf

    blocked = RuntimeConf.__dict__["set"]

    def set_setting(self: Any, key: str, value: Any) -> None:
        if str(key).startswith(PIPELINE_SETTINGS):
            return None
        return blocked(self, key, value)

    RuntimeConf.set = set_setting  # type: ignore[method-assign]
    try:
        yield
    finally:
        RuntimeConf.set = blocked  # type: ignore[method-assign]


@contextmanager
def load_failure_reported(path: Any) -> Iterator[None]:
    """Around the loading of one pipeline file: when it fails, report each dataset the file
    defines as failed, so the error names the tables (as a failing SQL statement's does), then
    let the error go on."""
    try:
        yield
    except BaseException:
        from datetime import datetime, timezone

        from pyspark.pipelines.logging_utils import log_with_curr_timestamp

        from etl_assets.engines.local.progress import classify, encode
        from etl_assets.translation.sources import datasets_defined
        try:
            defined = list(datasets_defined(path))
        except Exception:  # a file that does not even parse: Python's error names it
            defined = []
        names = _ACTIVE.definitions.names if _ACTIVE is not None else Names()
        now = datetime.now(timezone.utc)
        for name in defined:  # as the run's own events: one JSON line each, read by the runner
            print(encode(classify(f"Flow '{names.local(name)}' has FAILED.", now)), flush=True)
        log_with_curr_timestamp(f"{path} failed while loading; the datasets it defines did not run: "
                                f"{', '.join(defined) or 'none found in its code'}")
        raise


def finish() -> None:
    """Register the deferred definitions of the installed layer (after all files are loaded)."""
    if _ACTIVE is None:
        raise RuntimeError("compat.finish() before compat.install(spark)")
    _ACTIVE.finish()


__all__ = ["Layer", "UnsupportedConstructError", "finish", "install", "load_failure_reported",
           "pipeline_settings_accepted"]
