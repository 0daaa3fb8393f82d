"""etl_assets: medallion tables of Lakeflow Declarative Pipelines as a Dagster asset graph.

The public names below are imported on first use, so `import etl_assets` (and the
pipeline-side `etl_assets.ldp`) needs neither Dagster nor pyspark.

>>> from etl_assets import build_definitions, LocalPipelinesResource     # doctest: +SKIP
>>> defs = build_definitions("config.yml", engine=LocalPipelinesResource())   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    # Dagster side (needs the `dagster` extra)
    "build_definitions": "etl_assets.dagster.definitions",
    "GitSource": "etl_assets.dagster.definitions",
    "build_table_assets": "etl_assets.dagster.assets",
    "TableTranslator": "etl_assets.dagster.translator",
    "PipelinesEngineResource": "etl_assets.dagster.resources",
    "LocalPipelinesResource": "etl_assets.dagster.resources",
    "DatabricksPipelinesResource": "etl_assets.dagster.resources",
    "EtlAssetsComponent": "etl_assets.dagster.component",
    # Dagster-free
    "load_config": "etl_assets.project.load",
    "ProjectConfig": "etl_assets.project.config",
    "Table": "etl_assets.project.config",
    "Pipeline": "etl_assets.project.config",
    "Expectation": "etl_assets.project.config",
    "TableGraph": "etl_assets.project.graph",
    "RefreshRequest": "etl_assets.engines.base",
    "EtlAssetsError": "etl_assets.errors",
    "ConfigError": "etl_assets.errors",
    "EngineUnavailableError": "etl_assets.errors",
    "DatabricksApiError": "etl_assets.errors",
    "PipelineFailedError": "etl_assets.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'etl_assets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from etl_assets.dagster.assets import build_table_assets
    from etl_assets.dagster.component import EtlAssetsComponent
    from etl_assets.dagster.definitions import GitSource, build_definitions
    from etl_assets.dagster.resources import DatabricksPipelinesResource, LocalPipelinesResource, PipelinesEngineResource
    from etl_assets.dagster.translator import TableTranslator
    from etl_assets.engines.base import RefreshRequest
    from etl_assets.errors import (
        ConfigError,
        DatabricksApiError,
        EngineUnavailableError,
        EtlAssetsError,
        PipelineFailedError,
    )
    from etl_assets.project.config import Expectation, Pipeline, ProjectConfig, Table
    from etl_assets.project.graph import TableGraph
    from etl_assets.project.load import load_config
