"""Build the Dagster `Definitions` from config.yml."""

from __future__ import annotations

import os

from dagster import Definitions

from etl_assets.dagster.alerts import failure_alerts
from etl_assets.dagster.assets import build_table_assets
from etl_assets.project.config import load_config
from etl_assets.errors import ConfigError
from etl_assets.project.graph import TableGraph
from etl_assets.dagster.landing import build_landing_definitions
from etl_assets.dagster.landing_sensor import build_landing_sensor
from etl_assets.dagster.observer import build_pipeline_observer
from etl_assets.dagster.schedules import build_schedules, check_automation, check_schedules
from etl_assets.dagster.translator import TableTranslator


def build_definitions(
    config_path: str | os.PathLike[str] | None = None,
    translator: TableTranslator | None = None,
) -> Definitions:
    """Assets (one per table), checks and schedules for a config.yml.

    Raises `ConfigError` listing every problem when the config is invalid: nothing runs.

    >>> defs = build_definitions("config.yml")                      # doctest: +SKIP
    >>> defs.resolve_asset_graph().get_all_asset_keys()           # doctest: +SKIP
    """
    config = load_config(config_path)
    problems = check_schedules(config) + check_automation(config)
    if problems:
        raise ConfigError(problems)
    translator = translator or TableTranslator()
    assets = build_table_assets(config, translator, TableGraph(config))
    op_names = {key: a.node_def.name for a in assets for key in a.keys}
    keys = {t.name: translator.get_asset_key(t) for t in config.tables}
    landing_assets, landing_checks = build_landing_definitions(config)
    sensors = [failure_alerts, build_pipeline_observer(config, keys)]
    if any(t.source is not None for t in config.tables):
        sensors.append(build_landing_sensor(config, keys))
    return Definitions(
        assets=[*landing_assets, *assets],
        asset_checks=landing_checks,
        schedules=build_schedules(config, op_names),
        sensors=sensors,
    )
