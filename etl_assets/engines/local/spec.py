"""The Spark Declarative Pipelines spec of a config pipeline."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from etl_assets.conventions import CATALOG_CONF, ENGINE_CONF, LANDING_CONF, SCHEMA_CONF
from etl_assets.engines.local.compat.names import NAMESPACES_CONF, namespaces_value
from etl_assets.engines.local.home import LocalHome
from etl_assets.project.config import ProjectConfig

# How often the server's run loop looks at its flows, to start the ones whose inputs are done
# and to end the run: `Thread.sleep(seconds * 1000)` between looks, 1 s by default. Each level
# of the graph (bronze, silver, gold) waited for the next look, and the run for one more: about
# a third of a repeated run of the example (bench/README.md). The setting is whole seconds;
# 0 makes the loop yield instead of sleeping, which measured no more server CPU per run. A
# pipeline's `spark_conf` may set it back.
POLLING_CONF = "spark.sql.pipelines.execution.streamstate.pollingInterval"
RUN_DEFAULTS = {POLLING_CONF: "0"}


def write_spec(config: ProjectConfig, pipeline_key: str, home: LocalHome) -> Path:
    """Write `<home>/specs/<pipeline>.yml`: every file of the pipeline (its `libraries`, then its
    tables' files), its `configuration` and `spark_conf` (session settings of the run), and the
    project's keys telling the code it runs locally."""
    home.prepare()
    spec_path = home.specs / f"{pipeline_key}.yml"
    pipeline = config.pipelines[pipeline_key]
    libraries = [
        {"glob": {"include": Path(os.path.relpath(path, home.specs)).as_posix()}}
        for path in config.pipeline_files(pipeline_key)
    ]
    configuration = {**RUN_DEFAULTS, **pipeline.spark_conf, **pipeline.configuration,
                     ENGINE_CONF: "local", LANDING_CONF: str(home.landing)}
    catalog, schema = config.catalog_of(pipeline_key), config.schema_of(pipeline_key)
    if catalog:
        configuration[CATALOG_CONF] = catalog
    if schema:
        configuration[SCHEMA_CONF] = schema
    # Every pipeline's tables are the home's `default` database: a read of another pipeline's
    # `<catalog>.<schema>.t` is its table `t`.
    namespaces = {config.namespace_of(key) for key in config.pipelines}
    if len(namespaces) > 1:
        configuration[NAMESPACES_CONF] = namespaces_value(namespaces)
    spec = {
        "name": pipeline.name,
        "storage": home.storage(pipeline_key).as_uri(),
        "database": "default",
        "configuration": configuration,
        "libraries": libraries,
    }
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return spec_path
