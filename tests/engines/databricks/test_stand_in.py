"""The stand-in workspace answers as the live API does where the engine depends on it (each
rule's public source is noted in tests/support/fake_databricks.py)."""

from __future__ import annotations

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.errors import DatabricksError

from tests.support.fake_databricks import flow_event


@pytest.fixture
def w(fake) -> WorkspaceClient:
    return WorkspaceClient(config=Config(host=fake.url, token=fake.token))


def events(w, pipeline_id, **query):
    return w.api_client.do("GET", f"/api/2.0/pipelines/{pipeline_id}/events", query=query)


def test_events_filter_only_on_the_documented_columns(fake, w):
    with pytest.raises(DatabricksError) as raised:
        events(w, fake.orders, filter="event_type = 'flow_progress'")
    assert "Operation '=' not allowed on 'event_type'" in str(raised.value)
    with pytest.raises(DatabricksError):
        events(w, fake.orders, filter="origin.flow_name = 'x'")


def test_level_timestamp_id_and_update_id_filters_work_together(fake, w):
    update = fake.start_outside_update(fake.orders, ["orders_bronze"])
    fake._emit(update, [flow_event("orders_bronze", "RUNNING"), {**flow_event("orders_bronze", "FAILED"),
                                                                 "level": "ERROR"}])
    everything = events(w, fake.orders, filter=f"update_id = '{update.update_id}'", order_by=["timestamp asc"])
    assert [e["level"] for e in everything["events"]] == ["INFO", "ERROR"]
    first = everything["events"][0]
    errors = events(w, fake.orders, filter=f"level in ('ERROR', 'WARN') AND update_id = '{update.update_id}'")
    assert [e["level"] for e in errors["events"]] == ["ERROR"]
    later = events(w, fake.orders, filter=f"timestamp > '{first['timestamp']}'")
    assert first["id"] not in [e["id"] for e in later["events"]]
    assert [e["id"] for e in events(w, fake.orders, filter=f"id = '{first['id']}'")["events"]] == [first["id"]]


def test_a_page_token_goes_with_nothing_but_max_results(fake, w):
    update = fake.start_outside_update(fake.orders, ["orders_bronze"])
    fake._emit(update, [flow_event("orders_bronze", "RUNNING")] * 3)
    page = events(w, fake.orders, max_results=1)
    with pytest.raises(DatabricksError):
        events(w, fake.orders, page_token=page["next_page_token"], filter="level = 'INFO'")
    assert events(w, fake.orders, page_token=page["next_page_token"], max_results=1)["events"]
