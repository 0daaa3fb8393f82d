"""Build the Dagster `Definitions` of a project: assets, checks, schedules, sensors, engine."""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dagster import AnchorBasedFilePathMapping, AssetsDefinition, BetaWarning, Definitions, link_code_references_to_git

from etl_assets.dagster.alerts import Alerts, build_failure_alerts, build_freshness_alerts
from etl_assets.dagster.assets import build_table_assets
from etl_assets.dagster.landing import build_landing_definitions
from etl_assets.dagster.landing_sensor import build_landing_sensor
from etl_assets.dagster.observer import build_pipeline_observer
from etl_assets.dagster.resources import (
    ENGINE_RESOURCE_KEY,
    LocalPipelinesResource,
    PipelinesEngineResource,
    default_engine_resource,
)
from etl_assets.dagster.schedules import build_schedules, check_selections
from etl_assets.dagster.translator import TableTranslator
from etl_assets.errors import ConfigError
from etl_assets.project.code import CACHE_ENV, facts_cache
from etl_assets.project.config import Freshness, ProjectConfig, Table
from etl_assets.project.declared import with_declared_expectations
from etl_assets.project.graph import TableGraph
from etl_assets.project.load import CONFIG_ENV_VAR, load_config


@dataclass(frozen=True)
class GitSource:
    """Where the project's code is browsable, so code references in the UI open the hosted file.

    Args:
        url: the repository's web address, e.g. `https://github.com/acme/lakehouse`.
        branch: the branch (or tag, or commit) to link to.
        project_path: the folder of config.yml inside the repository ("" for its root).

    >>> GitSource.from_env({"ETL_ASSETS_GIT_URL": "https://github.com/acme/lake", "ETL_ASSETS_GIT_BRANCH": "main"})
    GitSource(url='https://github.com/acme/lake', branch='main', project_path='')
    """

    url: str
    branch: str
    project_path: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GitSource | None:
        """From $ETL_ASSETS_GIT_URL, $ETL_ASSETS_GIT_BRANCH and $ETL_ASSETS_GIT_PROJECT_PATH of
        `environ`; None unless both the address and the branch are set."""
        url, branch = environ.get("ETL_ASSETS_GIT_URL", "").strip(), environ.get("ETL_ASSETS_GIT_BRANCH", "").strip()
        if not url or not branch:
            return None
        return cls(url.rstrip("/"), branch, environ.get("ETL_ASSETS_GIT_PROJECT_PATH", "").strip().strip("/"))


@dataclass(frozen=True)
class Settings:
    """Everything a code location takes from its environment, read in one place: the default
    code location (`etl_assets.definitions`) builds it with `Settings.from_env(os.environ)`.

    >>> Settings.from_env({"ETL_ASSETS_CONFIG": "lake/config.yml"}).config
    'lake/config.yml'
    """

    config: str | None = None
    engine: PipelinesEngineResource | None = None
    git: GitSource | None = None
    alerts: Alerts = Alerts()
    code_cache: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """$ETL_ASSETS_CONFIG, the engine's variables ($ETL_ASSETS_ENGINE and the rest, see
        `default_engine_resource`), the git link's, the alerts' and $ETL_ASSETS_CODE_CACHE."""
        return cls(config=environ.get(CONFIG_ENV_VAR) or None, engine=default_engine_resource(environ),
                   git=GitSource.from_env(environ), alerts=Alerts.from_env(environ),
                   code_cache=environ.get(CACHE_ENV) or None)


def build_definitions(
    config: ProjectConfig | str | os.PathLike[str] | None = None,
    translator: TableTranslator | None = None,
    engine: PipelinesEngineResource | None = None,
    git: GitSource | None = None,
    alerts: Alerts | None = None,
    job_per_schedule: bool | None = None,
    code_cache: str | None = None,
) -> Definitions:
    """Assets (one per table), checks, schedules and sensors of a project, run by `engine`.

    Nothing here reads the environment: `Settings.from_env` does, where a code location is made.

    Args:
        config: a loaded config, or the path of config.yml (default: ./config.yml).
        translator: how tables become assets (default: `TableTranslator()`).
        engine: the engine resource (default: `LocalPipelinesResource()`).
        git: where the code is hosted; code references then link there (default: none; they
            name the local files).
        alerts: where failure and freshness alerts are posted (default: nowhere).
        job_per_schedule: give each schedule an asset job of its own, so each asset's page lists
            the schedules running it (default: up to 2,000 tables; see `etl_assets.dagster.schedules`).
        code_cache: the file caching what was read of the transformation files, or `off`
            (default: `.etl_assets/cache/code_facts.json` in the project folder).

    Raises:
        ConfigError: the config is invalid (every problem listed); nothing runs.

    >>> defs = build_definitions("config.yml", engine=LocalPipelinesResource())   # doctest: +SKIP
    >>> defs.resolve_asset_graph().get_all_asset_keys()                          # doctest: +SKIP
    """
    with _collector_paused():
        return _build(config, translator, engine, git, alerts or Alerts(), job_per_schedule, code_cache)


def _freshness_of(translator: TableTranslator, table: Table, config: ProjectConfig) -> Freshness | None:
    """The freshness limit the translator gave the table's asset, as config states it."""
    policy = translator.spec_of(table, config).freshness_policy
    return translator.get_freshness(table, config) if policy is not None else None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while the definitions are built, as it was before after.

    A build allocates hundreds of thousands of objects that all stay alive, so each collection
    it triggers walks the whole growing heap and frees nothing (a fifth of the build's time at
    10,000 tables). Reference counting still frees everything else at once.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(config: ProjectConfig | str | os.PathLike[str] | None, translator: TableTranslator | None,
           engine: PipelinesEngineResource | None, git: GitSource | None, alerts: Alerts,
           job_per_schedule: bool | None, code_cache: str | None = None) -> Definitions:
    project = config if isinstance(config, ProjectConfig) else load_config(config or "config.yml")
    with facts_cache(project.root, code_cache):  # files unchanged since the last load are not read again
        project = with_declared_expectations(project)  # rules declared in code are checks too
        problems = check_selections(project)
        if problems:
            raise ConfigError(problems)
        engine = engine if engine is not None else LocalPipelinesResource()
        translator = (translator or TableTranslator()).for_engine(engine.engine_traits())
        assets = build_table_assets(project, translator, TableGraph(project))
    if git is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BetaWarning)  # code references are beta in Dagster 1.13
            assets = [a for a in link_code_references_to_git(
                assets, git_url=git.url, git_branch=git.branch,
                file_path_mapping=AnchorBasedFilePathMapping(local_file_anchor=Path(project.root),
                                                             file_anchor_path_in_repository=git.project_path),
            ) if isinstance(a, AssetsDefinition)]
    op_names = {key: a.node_def.name for a in assets for key in a.keys}
    keys = translator.asset_keys(project)
    landing_assets, landing_checks = build_landing_definitions(project, translator)
    sensors = [build_failure_alerts(alerts), build_pipeline_observer(project, keys)]
    limits = {keys[t.name]: f.windows() for t in project.tables if (f := _freshness_of(translator, t, project))}
    if limits:
        sensors.append(build_freshness_alerts(limits, alerts))
    if any(t.source is not None for t in project.tables):
        sensors.append(build_landing_sensor(project, keys))
    defs = Definitions(
        assets=[*landing_assets, *assets],
        asset_checks=landing_checks,
        schedules=build_schedules(project, op_names, job_per_schedule),
        sensors=sensors,
        resources={ENGINE_RESOURCE_KEY: engine},
    )
    # Each schedule's asset job is resolved here, while the cycle collector is paused, rather
    # than when a code server first asks (the resolved jobs are kept by the definitions).
    defs.resolve_all_job_defs()
    return defs
