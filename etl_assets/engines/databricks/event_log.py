"""Reading a pipeline update's event log incrementally, with `details` (the SDK model drops it)."""

from __future__ import annotations

from typing import Any

from databricks.sdk import WorkspaceClient

from etl_assets.engines.databricks.client import call

PAGE_SIZE = 250


class EventReader:
    """Events of one update, oldest first, each returned once across calls."""

    def __init__(self, w: WorkspaceClient, pipeline_id: str, update_id: str):
        self.w = w
        self.pipeline_id = pipeline_id
        self.update_id = update_id
        self.last_timestamp: str | None = None
        self._seen_at_last: set[str] = set()  # ids at `last_timestamp`, in case the API repeats one

    @property
    def position(self) -> dict[str, Any]:
        """Where reading stopped, to resume in another process (a sensor's cursor)."""
        return {"after": self.last_timestamp, "ids": sorted(self._seen_at_last)}

    @classmethod
    def resume(cls, w: WorkspaceClient, pipeline_id: str, update_id: str, position: dict[str, Any]) -> EventReader:
        reader = cls(w, pipeline_id, update_id)
        reader.last_timestamp = position.get("after")
        reader._seen_at_last = set(position.get("ids") or [])
        return reader

    def read_new(self) -> list[dict[str, Any]]:
        """Events newer than the last read (only those are fetched)."""
        condition = f"update_id = '{self.update_id}'"
        if self.last_timestamp:
            condition += f" AND timestamp > '{self.last_timestamp}'"
        query: dict[str, Any] = {"filter": condition, "order_by": ["timestamp asc"], "max_results": PAGE_SIZE}
        fresh: list[dict[str, Any]] = []
        while True:
            page = call(self.w.config, f"reading events of update {self.update_id}",
                        lambda: self.w.api_client.do("GET", f"/api/2.0/pipelines/{self.pipeline_id}/events",
                                                     query=query))
            for event in page.get("events", []):
                if event.get("timestamp") == self.last_timestamp and event.get("id") in self._seen_at_last:
                    continue
                fresh.append(event)
            token = page.get("next_page_token")
            if not token:
                break
            # The API takes a page token with nothing but max_results.
            query = {"page_token": token, "max_results": PAGE_SIZE}
        for event in fresh:
            stamp = event.get("timestamp")
            if stamp != self.last_timestamp:
                self.last_timestamp, self._seen_at_last = stamp, set()
            self._seen_at_last.add(event.get("id"))
        return fresh
