"""Runs one pipeline update on the home's warm Spark Connect server, in this Python process.

    python -m etl_assets.engines.local.client --spec S [--refresh a,b] [--full-refresh a,b] [--dry-run]

It does what `spark-pipelines run` does (load the spec, open a session with the spec's
configuration, create the dataflow graph, register the definitions, start the run), without
the JVM launcher that `spark-pipelines` starts first. The run's events are printed as JSON lines
(`etl_assets.engines.local.progress`): each with its message, its time, and the flow and run
states it reports, so nothing downstream reads them back from text. The server is named by the
environment: `ETL_ASSETS_CONNECT_PORT` and `ETL_ASSETS_CONNECT_TOKEN` (never the command line, which other users can read).

Before the definitions are loaded the compatibility layer (`etl_assets.engines.local.compat`)
is installed, so Databricks pipeline code (`import dlt`, `dp.expect*`, `cloudFiles`, ...) runs;
as on Databricks, a Python file can import the modules beside it (its folder is put on
`sys.path`) and set its pipeline settings (`spark.conf.set("pipelines.<setting>", ...)`, no
local meaning, ignored).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from datetime import timezone
from pathlib import Path
from typing import Any

PORT_ENV = "ETL_ASSETS_CONNECT_PORT"
TOKEN_ENV = "ETL_ASSETS_CONNECT_TOKEN"


def connect_url() -> str:
    """The Spark Connect address of the server named by the environment."""
    port = os.environ.get(PORT_ENV)
    token = os.environ.get(TOKEN_ENV)
    if not port or not token:
        raise SystemExit(f"{PORT_ENV} and {TOKEN_ENV} must name the home's Spark Connect server "
                         "(the local runner sets them)")
    return f"sc://localhost:{port}/;token={token}"


def register_file(path: Path, spark: Any, dataflow_graph_id: str) -> None:
    """Define the datasets of one pipeline file: Python is executed as `spark-pipelines` does
    (module globals get `spark`); any other file is first turned into Python code."""
    from pyspark.pipelines.add_pipeline_analysis_context import add_pipeline_analysis_context
    from pyspark.pipelines.block_session_mutations import block_session_mutations
    from pyspark.pipelines.logging_utils import log_with_curr_timestamp

    from etl_assets.engines.local.compat import pipeline_settings_accepted
    from etl_assets.translation.sources import python_source, source_kind

    if source_kind(path) == "python":  # a Python notebook (also .py) is turned into code below
        log_with_curr_timestamp(f"Importing {path}...")
        _importable_next_to(path)
        module_spec = _module_spec(path)
        assert module_spec is not None and module_spec.loader is not None, f"cannot import {path}"
        module = importlib.util.module_from_spec(module_spec)
        if path.name == "__init__.py":  # a package library: its modules import each other through it
            sys.modules[module_spec.name] = module
        module.__dict__["spark"] = spark
        with add_pipeline_analysis_context(spark=spark, dataflow_graph_id=dataflow_graph_id, flow_name=None):
            with block_session_mutations(), pipeline_settings_accepted():
                module_spec.loader.exec_module(module)
        return
    # SQL files and notebooks become Python code defining the same datasets.
    log_with_curr_timestamp(f"Registering {path}...")
    code = compile(python_source(path), str(path), "exec")
    namespace: dict[str, Any] = {"__name__": path.stem, "__file__": str(path), "spark": spark}
    with add_pipeline_analysis_context(spark=spark, dataflow_graph_id=dataflow_graph_id, flow_name=None):
        with block_session_mutations(), pipeline_settings_accepted():
            exec(code, namespace)


def _module_spec(path: Path) -> Any:
    """A file's module spec; a package's `__init__.py` is imported as the package (named after its
    folder, whose parent is put on `sys.path`), so `from . import transformations` works."""
    if path.name != "__init__.py":
        return importlib.util.spec_from_file_location(path.stem, str(path))
    folder = path.resolve().parent
    if str(folder.parent) not in sys.path:
        sys.path.insert(0, str(folder.parent))
    return importlib.util.spec_from_file_location(folder.name, str(path), submodule_search_locations=[str(folder)])


def _importable_next_to(path: Path) -> None:
    """Put the folder of a pipeline's Python file on `sys.path`, so that `from helpers import f`
    finds `helpers.py` beside it, as on Databricks, where the folder holding the file being run
    is its current directory and is on the Python path."""
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)


def library_files(root: Path, include: str) -> list[Path]:
    """The files a spec's library glob names, as `spark-pipelines` finds them."""
    return sorted(p for p in root.glob(include) if p.is_file() and "__pycache__" not in p.parts)


def run(spec_path: Path, refresh: Sequence[str], full_refresh: Sequence[str], dry: bool) -> None:
    """Run (or with `dry`, validate) the pipeline of `spec_path` on the server of the environment."""
    from pyspark.pipelines.cli import change_dir, load_pipeline_spec
    from pyspark.pipelines.graph_element_registry import graph_element_registration_context
    from pyspark.pipelines.logging_utils import log_with_curr_timestamp
    from pyspark.pipelines.spark_connect_graph_element_registry import SparkConnectGraphElementRegistry
    from pyspark.pipelines.spark_connect_pipeline import create_dataflow_graph, start_run
    from pyspark.sql import SparkSession

    from etl_assets.engines.local import compat
    from etl_assets.engines.local.changes import ReadRecorder
    from etl_assets.engines.local.compat.cdc_incremental import keep_states

    log_with_curr_timestamp(f"Loading pipeline spec from {spec_path}...")
    spec = load_pipeline_spec(spec_path)
    log_with_curr_timestamp("Creating Spark session...")
    builder = SparkSession.builder.remote(connect_url()).config("spark.sql.connect.serverStacktrace.enabled", "false")
    for key, value in spec.configuration.items():
        builder = builder.config(key, value)
    spark = builder.create()
    try:
        log_with_curr_timestamp("Creating dataflow graph...")
        graph_id = create_dataflow_graph(spark, default_catalog=spec.catalog, default_database=spec.database,
                                         sql_conf=spec.configuration)
        log_with_curr_timestamp("Registering graph elements...")
        registry = SparkConnectGraphElementRegistry(spark, graph_id)
        reads = ReadRecorder.attach(registry)  # what each dataset reads: lets the next update skip it
        root = spec_path.parent.resolve()
        layer = compat.install(spark, spec, remote=connect_url(), full_refresh=full_refresh)
        with change_dir(root), graph_element_registration_context(registry):
            log_with_curr_timestamp(f"Loading definitions. Root directory: '{root}'.")
            for library in spec.libraries:
                files = library_files(root, library.include)
                log_with_curr_timestamp(f"Found {len(files)} files matching glob '{library.include}'")
                for file in files:
                    with compat.load_failure_reported(file):
                        register_file(file, spark, graph_id)
            layer.finish()
        reads.save()
        # A selection (not the whole pipeline) refreshes the private tables too (see Layer.selection).
        full_refresh = layer.selection(full_refresh)
        refresh = [name for name in layer.selection(refresh, private=bool(refresh or full_refresh))
                   if name not in full_refresh]
        log_with_curr_timestamp("Starting run...")
        events = start_run(spark, graph_id, full_refresh=full_refresh, full_refresh_all=False, refresh=refresh,
                           dry=dry, storage=spec.storage)
        if print_events(events) == "COMPLETED" and not dry:
            # Only now that every flow of the run is done: the kept AUTO CDC states describe it.
            chosen = {name.lower() for name in [*refresh, *full_refresh]}
            keep_states(lambda target: not chosen or target.lower() in chosen)
    finally:
        spark.stop()


def print_events(results: Iterator[dict[str, Any]]) -> str | None:
    """One JSON line per event of the run stream (what `handle_pipeline_events` prints as text);
    returns the run's last state (`COMPLETED`, `FAILED`, ...), None when none was reported."""
    from etl_assets.engines.local.progress import classify, encode

    status = None
    for result in results:
        if "pipeline_command_result" in result:
            continue  # the answer to StartRun itself
        if "pipeline_event_result" not in result:
            raise SystemExit(f"the pipeline run's event stream sent an unexpected result: {sorted(result)}")
        event = result["pipeline_event_result"].event
        moment = event.timestamp.ToDatetime().replace(tzinfo=timezone.utc)
        message = classify(event.message, moment)
        if message.run is not None:
            status = message.run.status.value
        print(encode(message), flush=True)
    return status


def _table_list(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def main(argv: Sequence[str] | None = None) -> None:
    """The command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m etl_assets.engines.local.client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", required=True, type=Path, help="the pipeline spec")
    parser.add_argument("--refresh", type=_table_list, action="extend", default=[], help="datasets to update")
    parser.add_argument("--full-refresh", type=_table_list, action="extend", default=[],
                        help="datasets to reset and recompute")
    parser.add_argument("--dry-run", action="store_true", help="validate the graph only")
    args = parser.parse_args(argv)
    if not args.spec.is_file():
        parser.error(f"no pipeline spec at {args.spec}")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    # Ctrl-C reaches the whole process group. The runner that started us decides: it stops the
    # server's flows and puts tables back before ending us. Ending here first would look like
    # a failed run while the server still writes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    run(args.spec, args.refresh, args.full_refresh, args.dry_run)


if __name__ == "__main__":
    main()
