"""Reading a pipeline update's event log incrementally, with `details` (the SDK model drops it).

Events become visible up to seconds after their timestamp, and several can share a
millisecond, so reading strictly after the newest timestamp seen can skip an event for good.
Each read therefore starts `OVERLAP_SECONDS` before the newest timestamp seen and drops the
events already returned, by id. Only the ids inside that window are kept, so memory and the
saved position stay small.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from databricks.sdk import WorkspaceClient

from etl_assets.engines.databricks.client import call

PAGE_SIZE = 250
OVERLAP_SECONDS = 5.0  # how late an event may become visible and still be read
REMEMBERED_IDS = 1000  # ids kept at most, should the window hold more events than this


def _parse(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None


def _format(moment: datetime) -> str:
    # The API's own form (millisecond precision, `Z`), so the filter compares like with like.
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class EventReader:
    """Events of one update, oldest first, each returned once across calls.

    Args:
        overlap_seconds: how far before the newest event seen each read starts again.
    """

    def __init__(self, w: WorkspaceClient, pipeline_id: str, update_id: str,
                 overlap_seconds: float = OVERLAP_SECONDS):
        self.w = w
        self.pipeline_id = pipeline_id
        self.update_id = update_id
        self.overlap = timedelta(seconds=overlap_seconds)
        self.newest: str | None = None  # newest event timestamp returned so far
        self._seen: dict[str, str] = {}  # id -> timestamp of events returned inside the overlap window

    @property
    def position(self) -> dict[str, Any]:
        """Where reading stopped, to resume in another process (a sensor's cursor): the newest
        timestamp and the ids of the events inside the overlap window. JSON-serializable."""
        return {"after": self.newest, "ids": sorted(self._seen)}

    @classmethod
    def resume(cls, w: WorkspaceClient, pipeline_id: str, update_id: str, position: dict[str, Any]) -> EventReader:
        """A reader that continues from `position` (also the older form, ids at `after` only)."""
        reader = cls(w, pipeline_id, update_id)
        reader.newest = position.get("after")
        reader._seen = {str(i): reader.newest or "" for i in position.get("ids") or []}
        return reader

    def _start(self) -> str | None:
        if self.newest is None:
            return None
        newest = _parse(self.newest)
        return _format(newest - self.overlap) if newest is not None else self.newest

    def read_new(self) -> list[dict[str, Any]]:
        """Events not returned before, in the order the API gives them (timestamp order; an event
        that became visible late comes after newer ones returned earlier)."""
        condition = f"update_id = '{self.update_id}'"
        start = self._start()
        if start:
            condition += f" AND timestamp > '{start}'"
        query: dict[str, Any] = {"filter": condition, "order_by": ["timestamp asc"], "max_results": PAGE_SIZE}
        fresh: list[dict[str, Any]] = []
        taken: set[str] = set()
        while True:
            page = call(self.w.config, f"reading events of update {self.update_id}",
                        lambda: self.w.api_client.do("GET", f"/api/2.0/pipelines/{self.pipeline_id}/events",
                                                     query=query))
            for event in page.get("events", []):
                event_id = str(event.get("id"))
                if event_id in self._seen or event_id in taken:
                    continue
                taken.add(event_id)
                fresh.append(event)
            token = page.get("next_page_token")
            if not token:
                break
            # The API takes a page token with nothing but max_results.
            query = {"page_token": token, "max_results": PAGE_SIZE}
        for event in fresh:
            stamp = event.get("timestamp") or ""
            self._seen[str(event.get("id"))] = stamp
            if stamp and (self.newest is None or stamp > self.newest):
                self.newest = stamp
        self._forget()
        return fresh

    def _forget(self) -> None:
        """Drop the ids the next read cannot return again (before its window starts)."""
        start = self._start()
        if start is not None:
            self._seen = {i: stamp for i, stamp in self._seen.items() if not stamp or stamp > start}
        if len(self._seen) > REMEMBERED_IDS:
            kept = sorted(self._seen.items(), key=lambda item: item[1])[-REMEMBERED_IDS:]
            self._seen = dict(kept)
