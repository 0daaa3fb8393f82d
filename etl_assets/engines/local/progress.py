"""Reading the progress Spark Declarative Pipelines prints, line by line."""

from __future__ import annotations

import re
from dataclasses import dataclass

_STAMP = r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}): "
_FLOW_STATE = re.compile(_STAMP + r"Flow '?(?P<flow>[^' ]+)'? (?:is|has) (?P<status>[A-Z_]+)\.")
_FLOW_SKIPPED = re.compile(_STAMP + r"Flow '?(?P<flow>[^' ]+)'? SKIPPED due to upstream failure")
_RUN_STATE = re.compile(_STAMP + r"Run (?:is|has) (?P<status>[A-Z_]+)\.")


@dataclass(frozen=True)
class FlowEvent:
    """A flow changed state. `table` is the last part of the flow's qualified name."""

    flow: str
    status: str
    timestamp: str

    @property
    def table(self) -> str:
        """The table the flow writes: the last part of its qualified name."""
        return self.flow.rsplit(".", 1)[-1].strip("`")


@dataclass(frozen=True)
class RunEvent:
    """The whole run reached a state (COMPLETED, FAILED, CANCELED)."""

    status: str
    timestamp: str


def parse_line(line: str) -> FlowEvent | RunEvent | None:
    """The event a line of `spark-pipelines run` output reports, if any.

    >>> parse_line("2026-01-01 10:00:00: Flow spark_catalog.default.orders has COMPLETED.").table
    'orders'
    """
    line = line.split("\r")[-1].strip()  # progress bars end with carriage returns
    match = _FLOW_SKIPPED.search(line)
    if match:
        return FlowEvent(match["flow"], "SKIPPED", match["ts"])
    match = _FLOW_STATE.search(line)
    if match:
        return FlowEvent(match["flow"], match["status"], match["ts"])
    match = _RUN_STATE.search(line)
    if match:
        return RunEvent(match["status"], match["ts"])
    return None
