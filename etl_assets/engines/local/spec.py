"""The Spark Declarative Pipelines spec of a config pipeline."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from etl_assets.conventions import ENGINE_CONF, LANDING_CONF
from etl_assets.engines.local.home import LocalHome
from etl_assets.project.config import ProjectConfig


def write_spec(config: ProjectConfig, pipeline_key: str, home: LocalHome) -> Path:
    """Write `<home>/specs/<pipeline>.yml` listing that pipeline's transformation files."""
    home.prepare()
    spec_path = home.specs / f"{pipeline_key}.yml"
    libraries = [
        {"glob": {"include": Path(os.path.relpath(config.transformation_path(t), home.specs)).as_posix()}}
        for t in config.tables_of(pipeline_key)
    ]
    spec = {
        "name": config.pipelines[pipeline_key].name,
        "storage": home.storage(pipeline_key).as_uri(),
        "database": "default",
        "configuration": {ENGINE_CONF: "local", LANDING_CONF: str(home.landing)},
        "libraries": libraries,
    }
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return spec_path
