"""The pipeline client's JSON-lines events: what a run's event messages say, and back."""

from __future__ import annotations

from datetime import datetime, timezone

from etl_assets.engines.events import FlowStatus, UpdateStatus
from etl_assets.engines.local.progress import FlowEvent, PipelineMessage, RunEvent, classify, decode, encode

AT = datetime(2026, 1, 1, 10, 0, 0, 250000, tzinfo=timezone.utc)
STAMP = "2026-01-01T10:00:00.250+00:00"


def states(message: str) -> list[tuple[str, FlowStatus]]:
    return [(f.table, f.status) for f in classify(message, AT).flows]


def test_flow_and_run_states_are_read_from_each_message():
    assert classify("Flow spark_catalog.default.orders has COMPLETED.", AT).flows == (
        FlowEvent("spark_catalog.default.orders", FlowStatus.COMPLETED, STAMP),)
    assert states("Flow 'spark_catalog.default.x' has FAILED.") == [("x", FlowStatus.FAILED)]
    assert states("Flow 'spark_catalog.default.y' SKIPPED due to upstream failure(s).") == [("y", FlowStatus.SKIPPED)]
    assert states("Flow `main`.`etl`.`z` is EXCLUDED.") == [("z", FlowStatus.EXCLUDED)]
    assert classify("Run is COMPLETED.", AT).run == RunEvent(UpdateStatus.COMPLETED, STAMP)
    assert classify("Run has FAILED.", AT).run == RunEvent(UpdateStatus.FAILED, STAMP)
    plain = classify("Loading definitions.", AT)
    assert plain.flows == () and plain.run is None


def test_flows_that_fail_to_resolve_are_failed_and_their_downstream_skipped():
    message = ("Failed to resolve flow: 'spark_catalog.default.orders_silver'.\n"
               "Flows that failed due to upstream errors: spark_catalog.default.a, spark_catalog.default.b")
    assert states(message) == [("orders_silver", FlowStatus.FAILED), ("a", FlowStatus.SKIPPED),
                               ("b", FlowStatus.SKIPPED)]
    assert states("Flows that failed due to upstream errors: ") == []


def test_a_word_no_engine_documents_is_no_state():
    assert states("Flow spark_catalog.default.x is DANCING.") == []
    assert classify("Run is DANCING.", AT).run is None


def test_an_event_goes_through_one_json_line_and_back_unchanged():
    event = classify("Failed to resolve flow: 'spark_catalog.default.o'.\n  [TABLE_OR_VIEW_NOT_FOUND] x", AT)
    line = encode(event)
    assert "\n" not in line
    assert decode(line) == event
    assert decode(line).text.startswith(f"{STAMP}: Failed to resolve flow")


def test_text_lines_are_not_events():
    assert decode("2026-01-01 10:00:00: Loading definitions.") is None
    assert decode('{"some": "json a user printed"}') is None
    assert decode('{"etl_assets_event": 1, broken') is None
    assert decode('{"etl_assets_event": 99, "flows": []}') is None  # a format this release does not know
    assert decode(encode(PipelineMessage("m", STAMP))) == PipelineMessage("m", STAMP)
