"""Reading the progress Spark Declarative Pipelines prints, line by line."""

from __future__ import annotations

import re
from dataclasses import dataclass

_STAMP = r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}): "
_FLOW_STATE = re.compile(_STAMP + r"Flow '?(?P<flow>[^' ]+)'? (?:is|has) (?P<status>[A-Z_]+)\.")
_FLOW_SKIPPED = re.compile(_STAMP + r"Flow '?(?P<flow>[^' ]+)'? SKIPPED due to upstream failure")
_RUN_STATE = re.compile(_STAMP + r"Run (?:is|has) (?P<status>[A-Z_]+)\.")
# Analysis errors stop the run before any flow starts: the graph names each flow that failed to
# resolve (`Failed to resolve flow: '<fqn>'.`, then its `Error: [...]` line) and then, on one
# unstamped line, the flows that could not resolve because an upstream one did not.
_FLOW_UNRESOLVED = re.compile(_STAMP + r"Failed to resolve flow: '?(?P<flow>[^' ]+?)'?\.?$")
_UPSTREAM_UNRESOLVED = re.compile(r"^Flows that failed due to upstream errors: (?P<flows>.+)$")


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


def parse_line(line: str) -> FlowEvent | RunEvent | list[FlowEvent] | None:
    """The event a line of `spark-pipelines run` output reports, if any (a list for a line
    naming several flows).

    >>> parse_line("2026-01-01 10:00:00: Flow spark_catalog.default.orders has COMPLETED.").table
    'orders'
    >>> parse_line("2026-01-01 10:00:00: Failed to resolve flow: 'spark_catalog.default.orders'.").status
    'FAILED'
    """
    line = line.split("\r")[-1].strip()  # progress bars end with carriage returns
    match = _FLOW_UNRESOLVED.search(line)
    if match:
        return FlowEvent(match["flow"], "FAILED", match["ts"])
    match = _UPSTREAM_UNRESOLVED.search(line)
    if match:
        return [FlowEvent(flow.strip(), "SKIPPED", "") for flow in match["flows"].split(",") if flow.strip()]
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
