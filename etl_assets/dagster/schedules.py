"""Schedules from config.yml: a cron and a Dagster asset selection each.

Each schedule targets its selection (`ScheduleDefinition(target=...)`), so Dagster gives it an
asset job of its own: the schedule's page lists its assets and each asset's page lists the
schedules that run it. A tick runs that job; a `full_refresh` schedule also passes each
pipeline's step its run config.

Dagster builds each such job when the code location loads, and a job over big pipelines costs
seconds: about 1.6 s of CPU per schedule at 10,000 tables, most of it Dagster copying every
unselected asset of each pipeline the selection touches into the job's own asset graph (see
docs/automation.md; bench/schedule_jobs_profile.py measures it). No public construction avoids
it: precomputed keys, `define_asset_job`, leaving checks out or one multi-asset for all tables
cost the same. Past `JOB_PER_SCHEDULE_MAX_TABLES` tables (or when asked), a schedule runs
Dagster's implicit asset job instead and names its assets at each tick (milliseconds); the UI
then lists no schedule on the asset pages.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from dagster import (
    AssetKey,
    AssetSelection,
    BetaWarning,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
)

from etl_assets.dagster.assets import RefreshConfig
from etl_assets.errors import ConfigProblem
from etl_assets.project.config import ProjectConfig, Schedule

SCHEDULE_TAG = "etl_assets/schedule"
# Up to this many tables, each schedule gets an asset job of its own (see the module's docstring).
JOB_PER_SCHEDULE_MAX_TABLES = 2000
# The job Dagster makes of every asset (its name as the UI and GraphQL show it).
IMPLICIT_ASSET_JOB = "__ASSET_JOB"


def parse_selection(text: str) -> AssetSelection:
    """A selection string of config.yml (`tag:daily and group:gold`) as Dagster parses it."""
    with _quiet_selection_parser():
        return AssetSelection.from_string(text)


def check_selections(config: ProjectConfig, asset_graph=None) -> list[ConfigProblem]:
    """Problems with the selection strings of config.yml (schedules, automation, freshness),
    judged by Dagster's own parser; with `asset_graph` (an `AssetGraph`), a selection matching
    no asset is a problem too. `etl-assets validate` checks both; a load only parses."""
    problems = []
    for section, name, selection in config.selections():
        where = f"{section[:-1]} '{name}'" if section == "schedules" else f"{section} '{name}'"
        try:
            parsed = parse_selection(selection)
        except Exception as exc:  # Dagster's parser raises several error types
            # Lines are looked up only for a problem: the lookup parses the file again.
            problems.append(ConfigProblem(
                config.path.name, config.line_of(section, name),
                f"{where}: selection '{selection}' does not parse ({_first_line(exc)})",
                hint="use Dagster's selection syntax, e.g. 'tag:daily and tag:critical' or 'group:gold'"))
            continue
        if asset_graph is not None and not resolve(parsed, asset_graph):
            problems.append(ConfigProblem(config.path.name, config.line_of(section, name),
                                          f"{where}: selection '{selection}' matches no table",
                                          hint="check the tag, group or key names against config.yml"))
    return problems


def check_schedules(config: ProjectConfig, asset_graph=None) -> list[ConfigProblem]:
    """Every selection of config.yml judged by Dagster (see `check_selections`)."""
    return check_selections(config, asset_graph)


def build_schedules(config: ProjectConfig, op_names: Mapping[AssetKey, str],
                    job_per_schedule: bool | None = None) -> list[ScheduleDefinition]:
    """One schedule per config entry. `op_names` maps each asset key to its pipeline's op.

    `job_per_schedule`: give each schedule an asset job of its own (the UI then lists it on its
    assets' pages); None decides by size (up to `JOB_PER_SCHEDULE_MAX_TABLES` tables)."""
    if job_per_schedule is None:
        job_per_schedule = len(config.tables) <= JOB_PER_SCHEDULE_MAX_TABLES
    build = _schedule if job_per_schedule else _tick_time_schedule
    return [build(s, op_names) for s in config.schedules]


def _description(schedule: Schedule) -> str:
    return (schedule.description or f"Materializes {schedule.selection}") + (
        " (full refresh)" if schedule.full_refresh else "")


def _full_refresh_config(keys: set[AssetKey], op_names: Mapping[AssetKey, str]) -> dict:
    ops = sorted({op_names[k] for k in keys if k in op_names})
    return {"ops": {op: {"config": RefreshConfig(full_refresh=True).model_dump(exclude_defaults=True)} for op in ops}}


def _tick_time_schedule(schedule: Schedule, op_names: Mapping[AssetKey, str]) -> ScheduleDefinition:
    """A schedule of the implicit asset job naming its selection's assets at each tick."""
    selection = parse_selection(schedule.selection)

    def evaluate(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        keys = resolve(selection, context.repository_def.asset_graph)
        if not keys:
            return SkipReason(f"selection '{schedule.selection}' matches no asset; check config.yml")
        return RunRequest(asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
                          run_config=_full_refresh_config(keys, op_names) if schedule.full_refresh else {},
                          tags={SCHEDULE_TAG: schedule.name})

    return ScheduleDefinition(
        name=schedule.name, cron_schedule=schedule.cron, execution_timezone=schedule.timezone,
        job_name=IMPLICIT_ASSET_JOB, execution_fn=evaluate, description=_description(schedule),
        default_status=DefaultScheduleStatus.STOPPED,
    )


def _schedule(schedule: Schedule, op_names: Mapping[AssetKey, str]) -> ScheduleDefinition:
    selection = parse_selection(schedule.selection)
    description = _description(schedule)

    def full_refresh(context: ScheduleEvaluationContext) -> dict:
        # Each pipeline step of the schedule's job rebuilds its selected tables.
        return _full_refresh_config(resolve(selection, context.repository_def.asset_graph), op_names)

    return ScheduleDefinition(
        name=schedule.name,
        cron_schedule=schedule.cron,
        execution_timezone=schedule.timezone,
        target=selection,
        description=description,
        tags={SCHEDULE_TAG: schedule.name},
        run_config_fn=full_refresh if schedule.full_refresh else None,
        default_status=DefaultScheduleStatus.STOPPED,
    )


def resolve(selection: AssetSelection, asset_graph) -> set[AssetKey]:
    """The keys `selection` picks in `asset_graph`, none missing."""
    with _quiet_selection_parser():
        return set(selection.resolve(asset_graph, allow_missing=True))


@contextmanager
def _quiet_selection_parser() -> Iterator[None]:
    # Dagster's own string-selection parser passes a beta parameter internally and warns each time.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        yield


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
