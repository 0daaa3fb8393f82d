"""The Spark Declarative Pipelines spec of a config pipeline."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from etl_assets.conventions import CATALOG_CONF, ENGINE_CONF, LANDING_CONF, SCHEMA_CONF
from etl_assets.engines.local.home import LocalHome
from etl_assets.project.config import ProjectConfig


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
    configuration = {**pipeline.spark_conf, **pipeline.configuration,
                     ENGINE_CONF: "local", LANDING_CONF: str(home.landing)}
    catalog, schema = config.catalog_of(pipeline_key), config.schema_of(pipeline_key)
    if catalog:
        configuration[CATALOG_CONF] = catalog
    if schema:
        configuration[SCHEMA_CONF] = schema
    spec = {
        "name": pipeline.name,
        "storage": home.storage(pipeline_key).as_uri(),
        "database": "default",
        "configuration": configuration,
        "libraries": libraries,
    }
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return spec_path
