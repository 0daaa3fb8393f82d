"""One account of an update, table by table, that both engines feed with their flows' states.

The engines differ in how they learn a flow's state (the local pipeline client's JSON lines,
the Databricks event log); what a state means for a table, and how an update ends, is decided
here once:

- a selected table's first RUNNING is `TableStarted`; FAILED is `TableFailed`; SKIPPED,
  EXCLUDED and STOPPED are `TableSkipped`; COMPLETED is the engine's completion events (made by
  the `complete` callback, which knows the engine's metadata). A flow retried after FAILED may
  still complete; nothing follows a completion.
- a reading (a METRICS-level event) and a state stamped before the one held (an event that
  became visible late) change no state.
- the end of an update (`finish`): a COMPLETED update completes every selected table that had
  no last word, saying its numbers were not reported; a COMPLETED update in which a selected
  table failed or was not refreshed ends FAILED, naming it. A run is never a success with a
  selected table neither materialized nor failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from etl_assets.engines.events import (
    EngineEvent,
    FlowStatus,
    Log,
    RunFinished,
    TableFailed,
    TableSkipped,
    TableStarted,
    UpdateStatus,
)

SkipReason = Literal["upstream_failure", "excluded", "stopped"]
SKIP_REASONS: dict[FlowStatus, SkipReason] = {
    FlowStatus.SKIPPED: "upstream_failure", FlowStatus.EXCLUDED: "excluded", FlowStatus.STOPPED: "stopped"}

Completer = Callable[[str, bool], Iterable[EngineEvent]]
"""`complete(table, reported)`: a table's completion events; `reported` is False when the update
completed without a word from the table's flow (its numbers are then `NOT_REPORTED`)."""


def takes_state(held_at: str | None, at: str | None, reading: bool) -> bool:
    """Whether a reported state replaces the one held (stamped `held_at`): not when it is a
    reading of numbers, nor when it is stamped before the state held (it became visible late).

    >>> takes_state("2026-01-01T10:00:02Z", "2026-01-01T10:00:01Z", False)
    False
    """
    return not reading and not (at and held_at and at < held_at)


class FlowTracker:
    """The selected tables' states in one update, and the events each change of state makes.

    Args:
        selected: the tables the update refreshes (other tables' flows are ignored).
        complete: makes a table's completion events (see `Completer`).

    >>> tracker = FlowTracker(["orders"], lambda table, reported: [])
    >>> [type(e).__name__ for e in tracker.flow("orders", FlowStatus.RUNNING)]
    ['TableStarted']
    >>> [e.status for e in tracker.finish(UpdateStatus.COMPLETED)]
    [<UpdateStatus.COMPLETED: 'COMPLETED'>]
    """

    def __init__(self, selected: Sequence[str], complete: Completer):
        self.selected = list(selected)
        self._complete = complete
        self.status: dict[str, FlowStatus] = {}
        self._at: dict[str, str] = {}
        self._told: dict[str, FlowStatus] = {}
        self.started: list[str] = []
        self.completed: list[str] = []

    def flow(self, table: str, status: FlowStatus | str | None, *, at: str | None = None, reading: bool = False,
             message: str = "") -> list[EngineEvent]:
        """Record that `table`'s flow reported `status` (stamped `at`, comparable strings), and
        return the events that makes. `reading`: a reading of numbers, not a change of state."""
        found = FlowStatus.of(status) if isinstance(status, str) else status
        if table not in self.selected or found is None or not takes_state(self._at.get(table), at, reading):
            return []
        self.status[table] = found
        if at:
            self._at[table] = at
        return self._tell(table, message)

    def _tell(self, table: str, message: str) -> list[EngineEvent]:
        status = self.status[table]
        told = self._told.get(table)
        if told is status or told is FlowStatus.COMPLETED:
            return []
        events: list[EngineEvent] = []
        if status is FlowStatus.RUNNING:
            if table not in self.started:
                self.started.append(table)
                events.append(TableStarted(table))
            return events
        if status is FlowStatus.COMPLETED:
            self.completed.append(table)
            events += self._complete(table, True)
        elif status is FlowStatus.FAILED:
            events += [Log(f"{table}: FAILED", "error"), TableFailed(table, message)]
        elif status in SKIP_REASONS:
            events += [Log(f"{table}: {status}, not refreshed", "warning"), TableSkipped(table, SKIP_REASONS[status])]
        else:
            return events
        self._told[table] = status
        return events

    def unsettled(self) -> list[str]:
        """Selected tables without a last word yet (no state, or one on the way)."""
        return [t for t in self.selected if t not in self.status or not self.status[t].final]

    def finish(self, status: UpdateStatus | str, *, detail: str = "", error_text: str = "",
               metadata: Mapping[str, Any] | None = None) -> Iterator[EngineEvent]:
        """The end of the update: what it did to each selected table, then `RunFinished`."""
        end = UpdateStatus(status)
        detail_text = detail
        if end is UpdateStatus.COMPLETED:
            for table in self.selected:
                if table not in self.completed and (table not in self.status or not self.status[table].final):
                    self.completed.append(table)
                    yield from self._complete(table, False)
            left = [t for t in self.selected if t not in self.completed]
            if left:
                end = UpdateStatus.FAILED
                said = ", ".join(f"{t} ({self.status[t]})" for t in left)
                detail_text = f"{detail}, completed without refreshing {said}, so".lstrip(", ")
        yield RunFinished(status=end, detail=detail_text, error_text=error_text, metadata=dict(metadata or {}))
