"""The neutral event stream every engine yields while it runs a pipeline update.

Engines know nothing of Dagster: they say what happened to each table, in the order the
pipeline reports it. One Dagster-side module (`etl_assets.dagster.results`) turns the stream
into materializations, check results and one failure, identically for every engine.

Metadata values are plain Python values; two wrappers say how a value should be shown:
`Link` (a URL) and `pathlib.Path` (a local file or folder). A table's columns go under
`COLUMNS` as a list of `{"name", "type"}` dicts (with `"description"` where the engine knows a
comment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

LogLevel = Literal["debug", "info", "warning", "error"]

COLUMNS = "columns"
"""The metadata key of a completed table's columns: `[{"name": "id", "type": "bigint"}, ...]`."""


NOT_REPORTED = "not reported"
"""The metadata value of a number the engine did not report (never shown as 0)."""


class UpdateStatus(StrEnum):
    """How an update ended. `UNKNOWN`: the engine lost sight of it (a client that died, an
    update state the API did not give), which never counts as success."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def of(cls, state: str | None) -> UpdateStatus | None:
        """The end a state names (an API update state, a run state), or None for a state on
        the way (QUEUED, RUNNING, ...).

        >>> UpdateStatus.of("CANCELED"), UpdateStatus.of("RUNNING")
        (<UpdateStatus.CANCELED: 'CANCELED'>, None)
        """
        return cls.__members__.get(state or "") if state != "UNKNOWN" else None


class FlowStatus(StrEnum):
    """The state of a table's flow, as both engines report it (the Databricks event log's
    `flow_progress.status`; Spark Declarative Pipelines prints the same words)."""

    QUEUED = "QUEUED"
    PLANNING = "PLANNING"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    IDLE = "IDLE"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    STOPPED = "STOPPED"
    EXCLUDED = "EXCLUDED"

    @classmethod
    def of(cls, status: str | None) -> FlowStatus | None:
        """The status a reported word names, or None for a word neither engine documents."""
        return cls.__members__.get((status or "").upper())

    @property
    def final(self) -> bool:
        """Whether it is a flow's last word in an update (a retried flow may still speak again)."""
        return self in _FINAL


_FINAL = {FlowStatus.COMPLETED, FlowStatus.FAILED, FlowStatus.SKIPPED, FlowStatus.STOPPED, FlowStatus.EXCLUDED}


class Link(str):
    """A metadata value that is a URL (shown as a link)."""


@dataclass(frozen=True)
class Log:
    """A line for the run's log (progress, warnings), at `level`."""

    message: str
    level: LogLevel = "info"


@dataclass(frozen=True)
class UpdateStarted:
    """The engine started an update: its id and where a person can follow it."""

    pipeline: str
    update_id: str
    link: str | None = None


@dataclass(frozen=True)
class TableStarted:
    """A table's flow began running."""

    table: str


@dataclass(frozen=True)
class TableCompleted:
    """A table was refreshed. `row_count` is the table's rows after the update, if known."""

    table: str
    row_count: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TableFailed:
    """A table's flow failed; `message` is the engine's error text for it."""

    table: str
    message: str = ""


@dataclass(frozen=True)
class TableSkipped:
    """A table was not refreshed: `reason` is `upstream_failure`, `excluded` or `stopped`."""

    table: str
    reason: Literal["upstream_failure", "excluded", "stopped"] = "upstream_failure"


@dataclass(frozen=True)
class QualityReported:
    """Per-rule results of a table's expectations in this update.

    `counts` maps rule name to (passed, failed) records. `rows_checked` is how many rows the
    rules were applied to, when known: 0 means the update wrote nothing, so a rule missing from
    `counts` passes with zero counts, unless `declared_known` says `counts` names every rule the
    pipeline declares. Otherwise a missing rule gets a failed check whose message ends with
    `hint` (where to declare it). `nulls` counts, per rule, the rows where the condition was
    null (already among the failed). `dropped` says failing rows of `drop` rules were dropped
    (an update), not kept (a check of the table as it is).
    """

    table: str
    counts: Mapping[str, tuple[int, int]]
    dropped_records: int | None = None
    hint: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    rows_checked: int | None = None
    declared_known: bool = False
    nulls: Mapping[str, int] = field(default_factory=dict)
    dropped: bool = True


@dataclass(frozen=True)
class RunFinished:
    """The update ended with `status`; `detail` names the run (`update 0123`, `local run, exit
    code 1`); `error_text` is the engine's error output. `metadata["continuous"]` marks a run
    that only made sure a continuous pipeline runs: its tables are reported by the pipeline
    observer as it refreshes them, not by this run."""

    status: UpdateStatus
    detail: str = ""
    error_text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A bare word is accepted where it is one of the statuses; anything else is refused here.
        object.__setattr__(self, "status", UpdateStatus(self.status))

    @property
    def succeeded(self) -> bool:
        """Whether the update completed (status COMPLETED)."""
        return self.status is UpdateStatus.COMPLETED


EngineEvent = Log | UpdateStarted | TableStarted | TableCompleted | TableFailed | TableSkipped | QualityReported | RunFinished

