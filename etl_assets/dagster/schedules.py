"""Schedules from config.yml: a cron and a Dagster asset selection each.

Each schedule targets Dagster's implicit asset job and names its assets in the run request.
An asset job per schedule would be resolved on every code location load, and with thousands
of tables that costs seconds per job (see bench/README.md); resolving the selection at tick
time costs milliseconds. The UI still shows each schedule's target assets: the schedule
presents its selection as Dagster presents an anonymous asset job's, resolved to asset keys
when the code location's snapshot is taken, without a job of its own to build.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster import (
    AssetKey,
    AssetSelection,
    BetaWarning,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
)
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.definitions.assets.job.asset_job import IMPLICIT_ASSET_JOB_NAME
from dagster._core.definitions.job_definition import JobDefinition
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._utils.schedules import is_valid_cron_string

from etl_assets.dagster.assets import RefreshConfig
from etl_assets.errors import ConfigProblem
from etl_assets.project.config import ProjectConfig, Schedule

SCHEDULE_TAG = "etl_assets/schedule"


def check_schedules(config: ProjectConfig, asset_graph: BaseAssetGraph | None = None) -> list[ConfigProblem]:
    """Problems with each schedule's cron and selection, judged by Dagster itself.

    With `asset_graph`, a selection that matches no asset is a problem too. Loading the code
    location skips that part (it costs a second full asset graph build at 10,000 tables);
    `etl-assets validate` does it, and a schedule tick that selects nothing says so.
    """
    problems = []
    for schedule in config.schedules:
        def problem(message: str, hint: str, schedule: Schedule = schedule) -> None:
            line = config.line_of("schedules", schedule.name)
            problems.append(ConfigProblem(config.path.name, line, f"schedule '{schedule.name}': {message}",
                                          hint=hint))

        if not is_valid_cron_string(schedule.cron):
            problem(f"invalid cron '{schedule.cron}'",
                    "use five fields: minute hour day-of-month month day-of-week, e.g. '0 6 * * *'")
        try:
            with _quiet_selection_parser():
                selection = AssetSelection.from_string(schedule.selection)
        except Exception as exc:  # Dagster's parser raises several error types
            problem(f"selection '{schedule.selection}' does not parse ({_first_line(exc)})",
                    "use Dagster's selection syntax, e.g. 'tag:daily and tag:critical' or 'group:gold'")
            continue
        if asset_graph is not None and not _resolve(selection, asset_graph):
            problem(f"selection '{schedule.selection}' matches no table",
                    "check the tag, group or key names against config.yml")
    return problems


def check_automation(config: ProjectConfig) -> list[ConfigProblem]:
    """Problems with tables' `automation: {on_cron: ...}` settings."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    problems = []
    for table in config.tables:
        automation = table.automation
        if automation is None or isinstance(automation, str):
            continue
        line = config.line_of("tables", table.name)
        if not is_valid_cron_string(automation.on_cron):
            problems.append(ConfigProblem(config.path.name, line, f"automation: invalid cron '{automation.on_cron}'",
                                          table.name, "use five fields, e.g. '0 6 * * *'"))
        try:
            ZoneInfo(automation.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(ConfigProblem(config.path.name, line, f"automation: unknown timezone '{automation.timezone}'",
                                          table.name, "use an IANA name such as 'UTC' or 'Europe/Paris'"))
    return problems


def build_schedules(config: ProjectConfig, op_names: Mapping[AssetKey, str]) -> list[ScheduleDefinition]:
    """One schedule per config entry. `op_names` maps each asset key to its pipeline's op."""
    return [_schedule(s, op_names) for s in config.schedules]


def _schedule(schedule: Schedule, op_names: Mapping[AssetKey, str]) -> ScheduleDefinition:
    with _quiet_selection_parser():
        selection = AssetSelection.from_string(schedule.selection)

    def evaluate(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        keys = sorted(_resolve(selection, context.repository_def.asset_graph), key=lambda k: k.to_user_string())
        if not keys:
            return SkipReason(f"selection '{schedule.selection}' matches no asset; check config.yml")
        run_config = {}
        if schedule.full_refresh:
            ops = sorted({op_names[k] for k in keys if k in op_names})
            run_config = {"ops": {op: {"config": RefreshConfig(full_refresh=True).model_dump()} for op in ops}}
        return RunRequest(asset_selection=keys, run_config=run_config, tags={SCHEDULE_TAG: schedule.name})

    return SelectionSchedule(
        selection=selection,
        name=schedule.name,
        cron_schedule=schedule.cron,
        execution_timezone=schedule.timezone,
        job_name=IMPLICIT_ASSET_JOB_NAME,
        execution_fn=evaluate,
        description=schedule.description or f"Materializes {schedule.selection}"
        + (" (full refresh)" if schedule.full_refresh else ""),
        default_status=DefaultScheduleStatus.STOPPED,
    )


class SelectionSchedule(ScheduleDefinition):
    """A schedule of the implicit asset job whose target assets the UI shows: `selection`.

    Dagster shows a schedule's assets only when its target is an anonymous asset job, and such
    a job is built on every code location load (seconds at thousands of tables). This schedule
    runs the implicit asset job (its ticks name their assets) and offers `selection` where the
    snapshot looks for the anonymous job's; nothing is built for it at load.
    """

    def __init__(self, *, selection: AssetSelection, **kwargs: Any):
        super().__init__(**kwargs)
        self._etl_selection = selection

    @property
    def has_anonymous_job(self) -> bool:
        return True

    @property
    def job(self) -> JobDefinition | UnresolvedAssetJobDefinition:
        if self._target.has_job_def:
            return super().job
        # Never registered nor resolved: the snapshot only reads its selection.
        return define_asset_job(IMPLICIT_ASSET_JOB_NAME, selection=self._etl_selection)


def _resolve(selection: AssetSelection, asset_graph: BaseAssetGraph) -> set[AssetKey]:
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
