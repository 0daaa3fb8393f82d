"""Build the Dagster `Definitions` of a project: assets, checks, schedules, sensors, engine."""

from __future__ import annotations

import os

from dagster import Definitions

from etl_assets.dagster.alerts import failure_alerts
from etl_assets.dagster.assets import build_table_assets
from etl_assets.dagster.landing import build_landing_definitions
from etl_assets.dagster.landing_sensor import build_landing_sensor
from etl_assets.dagster.observer import build_pipeline_observer
from etl_assets.dagster.resources import ENGINE_RESOURCE_KEY, PipelinesEngineResource, default_engine_resource
from etl_assets.dagster.schedules import build_schedules, check_automation, check_schedules
from etl_assets.dagster.translator import TableTranslator
from etl_assets.errors import ConfigError
from etl_assets.project.config import ProjectConfig
from etl_assets.project.graph import TableGraph
from etl_assets.project.load import load_config


def build_definitions(
    config: ProjectConfig | str | os.PathLike[str] | None = None,
    translator: TableTranslator | None = None,
    engine: PipelinesEngineResource | None = None,
) -> Definitions:
    """Assets (one per table), checks, schedules and sensors of a project, run by `engine`.

    Args:
        config: a loaded config, or the path of config.yml (default: $ETL_ASSETS_CONFIG or
            ./config.yml).
        translator: how tables become assets (default: `TableTranslator()`).
        engine: the engine resource (default: `default_engine_resource()`, which reads
            $ETL_ASSETS_ENGINE: local unless set to databricks).

    Raises:
        ConfigError: the config is invalid (every problem listed); nothing runs.

    >>> defs = build_definitions("config.yml", engine=LocalPipelinesResource())   # doctest: +SKIP
    >>> defs.resolve_asset_graph().get_all_asset_keys()                          # doctest: +SKIP
    """
    project = config if isinstance(config, ProjectConfig) else load_config(config)
    problems = check_schedules(project) + check_automation(project)
    if problems:
        raise ConfigError(problems)
    translator = translator or TableTranslator()
    assets = build_table_assets(project, translator, TableGraph(project))
    op_names = {key: a.node_def.name for a in assets for key in a.keys}
    keys = {t.name: translator.get_asset_key(t) for t in project.tables}
    landing_assets, landing_checks = build_landing_definitions(project, translator)
    sensors = [failure_alerts, build_pipeline_observer(project, keys)]
    if any(t.source is not None for t in project.tables):
        sensors.append(build_landing_sensor(project, keys))
    return Definitions(
        assets=[*landing_assets, *assets],
        asset_checks=landing_checks,
        schedules=build_schedules(project, op_names),
        sensors=sensors,
        resources={ENGINE_RESOURCE_KEY: engine if engine is not None else default_engine_resource()},
    )
