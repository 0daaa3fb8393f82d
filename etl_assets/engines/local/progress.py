"""The local pipeline client's structured events: one JSON line per event of the run.

Spark Connect sends a pipeline run's events as a timestamp and a message (its `PipelineEvent`
has no other field), so the client classifies each message where it arrives, once, and prints
one JSON line with the message, its time and what it says of flows and of the run:

    {"etl_assets_event": 1, "at": "2026-01-01T10:00:00.000+00:00", "message": "Flow ... has COMPLETED.",
     "flows": [["spark_catalog.default.orders", "COMPLETED"]], "run": null}

Whatever else the client prints (its own steps, a user's print, a traceback) stays a text line;
`decode` tells the two apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from etl_assets.engines.events import FlowStatus, UpdateStatus

MARKER = "etl_assets_event"
VERSION = 1

_FLOW_STATE = re.compile(r"^Flow '?(?P<flow>[^' ]+)'? (?:is|has) (?P<status>[A-Z_]+)\.")
_FLOW_SKIPPED = re.compile(r"^Flow '?(?P<flow>[^' ]+)'? SKIPPED due to upstream failure")
_RUN_STATE = re.compile(r"^Run (?:is|has) (?P<status>[A-Z_]+)\.")
# Analysis errors stop the run before any flow starts: the graph names each flow that failed to
# resolve (`Failed to resolve flow: '<fqn>'.`) and then, on a line of its own, the flows that
# could not resolve because an upstream one did not.
_FLOW_UNRESOLVED = re.compile(r"^Failed to resolve flow: '?(?P<flow>[^' ]+?)'?\.?$")
_UPSTREAM_UNRESOLVED = re.compile(r"^Flows that failed due to upstream errors: (?P<flows>.+)$")


@dataclass(frozen=True)
class FlowEvent:
    """A flow changed state. `table` is the last part of the flow's qualified name."""

    flow: str
    status: FlowStatus
    timestamp: str

    @property
    def table(self) -> str:
        """The table the flow writes: the last part of its qualified name."""
        return self.flow.rsplit(".", 1)[-1].strip("`")


@dataclass(frozen=True)
class RunEvent:
    """The whole run reached its end."""

    status: UpdateStatus
    timestamp: str


@dataclass(frozen=True)
class PipelineMessage:
    """One event of the run as the client printed it: the message, and what it says."""

    message: str
    timestamp: str
    flows: tuple[FlowEvent, ...] = ()
    run: RunEvent | None = None

    @property
    def text(self) -> str:
        """The message as `spark-pipelines` prints it: its time, then the message."""
        return f"{self.timestamp}: {self.message}"


def classify(message: str, moment: datetime) -> PipelineMessage:
    """What one event message of a run says of its flows and of the run.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 1, 1, 10, tzinfo=timezone.utc)
    >>> [(f.table, f.status.value) for f in classify("Flow spark_catalog.default.orders has COMPLETED.", at).flows]
    [('orders', 'COMPLETED')]
    >>> classify("Failed to resolve flow: 'spark_catalog.default.orders'.", at).flows[0].status.value
    'FAILED'
    """
    stamp = moment.isoformat(timespec="milliseconds")
    flows: list[FlowEvent] = []
    run: RunEvent | None = None
    for raw in message.splitlines():
        line = raw.strip()
        if match := _FLOW_UNRESOLVED.search(line):
            flows.append(FlowEvent(match["flow"], FlowStatus.FAILED, stamp))
        elif match := _UPSTREAM_UNRESOLVED.search(line):
            flows += [FlowEvent(f.strip(), FlowStatus.SKIPPED, stamp) for f in match["flows"].split(",") if f.strip()]
        elif match := _FLOW_SKIPPED.search(line):
            flows.append(FlowEvent(match["flow"], FlowStatus.SKIPPED, stamp))
        elif (match := _FLOW_STATE.search(line)) and FlowStatus.of(match["status"]) is not None:
            flows.append(FlowEvent(match["flow"], FlowStatus(match["status"]), stamp))
        elif (match := _RUN_STATE.search(line)) and UpdateStatus.of(match["status"]) is not None:
            run = RunEvent(UpdateStatus(match["status"]), stamp)
    return PipelineMessage(message, stamp, tuple(flows), run)


def encode(event: PipelineMessage) -> str:
    """The JSON line of an event (one line: newlines in the message are escaped)."""
    return json.dumps({MARKER: VERSION, "at": event.timestamp, "message": event.message,
                       "flows": [[f.flow, f.status.value] for f in event.flows],
                       "run": event.run.status.value if event.run else None})


def decode(line: str) -> PipelineMessage | None:
    """The event a line of the client's output carries, or None for a text line.

    >>> decode('{"etl_assets_event": 1, "at": "t", "message": "m", "flows": [["a.b", "RUNNING"]], "run": null}').flows
    (FlowEvent(flow='a.b', status=<FlowStatus.RUNNING: 'RUNNING'>, timestamp='t'),)
    >>> decode("2026-01-01 10:00:00: Loading definitions.") is None
    True
    """
    text = line.strip()
    if not text.startswith("{") or MARKER not in text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get(MARKER) != VERSION:
        return None
    stamp = str(data.get("at") or "")
    flows = tuple(FlowEvent(str(flow), status, stamp) for flow, word in data.get("flows") or []
                  if (status := FlowStatus.of(word)) is not None)
    end = UpdateStatus.of(data.get("run"))
    return PipelineMessage(str(data.get("message") or ""), stamp, flows, RunEvent(end, stamp) if end else None)
