"""The engine interface: what every engine does, and what an update request holds.

An engine runs one pipeline update and yields neutral events (`etl_assets.engines.events`);
it knows nothing of Dagster. Capabilities are class attributes, so callers ask the engine
rather than compare names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from etl_assets.engines.events import EngineEvent, QualityReported
from etl_assets.project.config import Expectation, Pipeline, ProjectConfig

ENGINE_NAMES = ("local", "databricks")

Verdict = Literal["ours", "theirs", "busy"]
"""Who made a refresh the observer found: one of our runs, someone else, or a run of ours
still in progress (look again later)."""


@dataclass(frozen=True)
class UpdateMade:
    """A refresh known by the pipeline update that made it (the Databricks engine): a run of
    ours tags itself with the update id it started."""

    pipeline: str
    update_id: str


@dataclass(frozen=True)
class TableWritten:
    """A refresh known by the table version it left (the local engine): a run of ours records
    the version in its materialization. `committed_at`: when it was written (epoch seconds)."""

    table: str
    version: str
    committed_at: float


Provenance = UpdateMade | TableWritten
"""What the observer's judge is asked about: where a refresh it found came from."""


@dataclass(frozen=True)
class RefreshRequest:
    """One pipeline update: the tables to refresh (any order) and whether fully.

    Args:
        config: the validated project config.
        pipeline: the config pipeline to update.
        tables: names of the tables of that pipeline to refresh.
        full_refresh: rebuild the tables (and reset streaming checkpoints) instead of refreshing.
        validate_only: a dry run: the pipeline analyzes the tables' definitions and refreshes
            nothing; a table that does not resolve is a `TableFailed` with the analysis error.
        full_refresh_tables: tables of `tables` to rebuild; the others are refreshed as usual.
        reset_checkpoint_tables: streaming tables of `tables` that read their whole source again
            into the rows they keep (their checkpoints start over, their data stays).
    """

    config: ProjectConfig
    pipeline: Pipeline
    tables: Sequence[str]
    full_refresh: bool = False
    validate_only: bool = False
    full_refresh_tables: Sequence[str] = ()
    reset_checkpoint_tables: Sequence[str] = ()

    def __post_init__(self) -> None:
        # Both engines take an empty selection as "the whole pipeline": never ask for that by accident.
        if not self.tables:
            raise ValueError(
                f"a refresh of pipeline '{self.pipeline.key}' needs at least one table: an empty selection would "
                "refresh the whole pipeline. To run only checks, use the engine's evaluate_checks."
            )
        outside = [t for t in (*self.full_refresh_tables, *self.reset_checkpoint_tables) if t not in self.tables]
        if outside:
            raise ValueError(f"recovery of pipeline '{self.pipeline.key}' names tables it does not refresh: "
                             f"{', '.join(outside)}; select them too (etl_assets.project.recovery checks this first)")

    def fully(self, table: str) -> bool:
        """Whether the update rebuilds `table` (a full refresh of the step, or of that table)."""
        return self.full_refresh or table in self.full_refresh_tables


@dataclass(frozen=True)
class ObservedRefresh:
    """A refresh that no run of ours made, as the pipeline observer reports it.

    `events` are the same neutral events a run yields (completions, quality), so observed and
    run-made materializations carry the same metadata.
    """

    pipeline: str
    events: Sequence[EngineEvent]
    key: str  # what the refresh is known by: an update id or a table version
    metadata: dict[str, Any]


class EngineTraits(Protocol):
    """What is known of an engine without configuring or connecting it (read when the code
    location loads: asset kinds and table names).

    Attributes:
        name: `local` or `databricks`.
        kind: the Dagster kind shown on assets it runs.
        runs_continuous: whether it can run `continuous: true` pipelines.
        has_local_landing: whether landing files live on this machine (example data, exploration:
            see `Engine.local_landing`).
        nothing_observed: what the pipeline observer says when it found nothing new.
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    runs_continuous: ClassVar[bool]
    has_local_landing: ClassVar[bool]
    nothing_observed: ClassVar[str]

    @classmethod
    def table_name(cls, config: ProjectConfig, table: str) -> str:
        """The name a table has on this engine (for `dagster/table_name`)."""
        ...


class Engine(EngineTraits, Protocol):
    """Runs pipeline updates and reports what they did (see `EngineTraits` for its attributes)."""

    def refresh(self, request: RefreshRequest) -> Iterator[EngineEvent]:
        """Run one update and yield events as the pipeline reports them, `RunFinished` last.

        Closing the iterator early (the Dagster run was terminated) stops the update.
        """
        ...

    def evaluate_checks(self, config: ProjectConfig, table: str,
                        expectations: Sequence[Expectation]) -> QualityReported:
        """The expectations evaluated over the table as it is now, refreshing nothing.

        A check-only run uses this; `etl_assets.dagster.results.check_outcomes` judges the counts.
        """
        ...

    def landing_listing(self, config: ProjectConfig, source_path: str, pipeline_key: str) -> tuple[str, dict[str, int]]:
        """Where a source's raw files are, and each data file there with its arrival time (ms)."""
        ...

    def local_landing(self, config: ProjectConfig) -> Path:
        """The landing folder on this machine (engines with `has_local_landing` only)."""
        ...

    def observe(self, config: ProjectConfig, cursor: dict[str, Any],
                judge: Callable[[Provenance], Verdict]) -> tuple[list[ObservedRefresh], dict[str, Any]]:
        """Refreshes made outside our runs since `cursor`, and the next cursor.

        `judge(provenance)` says who made a refresh, given where it came from (`UpdateMade`,
        `TableWritten`).
        """
        ...
