"""Keeping every table of a local update as it was, or as the update completed it.

Open-source Spark empties a materialized view's folder before computing it, and a streaming
table's checkpoint can move on (or start over, on a full refresh) before its data is
committed. So before an update, each table it may write is hard-linked aside (its files and
its checkpoints: no data is copied, Spark never changes a file in place) and a journal names
them. A table that completes drops its copy; on failure or interruption every other table is
put back. A journal left behind (the process was killed) is honoured by the next update of the
pipeline before it takes new copies: the copies survive until the tables they protect are
known good.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from etl_assets.engines.local.home import LocalHome


def _link_copy(source: Path, destination: Path) -> None:
    shutil.rmtree(destination, ignore_errors=True)
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, destination, copy_function=os.link)


def _replace(target: Path, saved: Path | None) -> None:
    """Make `target` what `saved` holds (or absent when nothing was saved)."""
    if target.exists():
        aside = target.with_name(f".{target.name}.discarded")
        shutil.rmtree(aside, ignore_errors=True)
        target.rename(aside)  # one step, so a reader never lists a half-deleted folder
        shutil.rmtree(aside, ignore_errors=True)
    if saved is not None and saved.exists():
        staged = target.with_name(f".{target.name}.restoring")
        shutil.rmtree(staged, ignore_errors=True)
        _link_copy(saved, staged)
        staged.rename(target)


class UpdateGuard:
    """Snapshots of the tables one update of one pipeline may write, with their journal.

    Args:
        home: the local state folder.
        pipeline: the pipeline key (snapshots live under `<home>/snapshots/<pipeline>/`).
    """

    def __init__(self, home: LocalHome, pipeline: str):
        self.home = home
        self.root = home.root / "snapshots" / pipeline
        self.journal = self.root / "journal.json"
        self.pipeline = pipeline

    def _read(self) -> dict[str, Any]:
        try:
            return json.loads(self.journal.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            # A journal cut short by a crash was never complete: its snapshots are too.
            return {}

    def _write(self, entries: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        staged = self.journal.with_suffix(".tmp")
        staged.write_text(json.dumps(entries, sort_keys=True), encoding="utf-8")
        os.replace(staged, self.journal)

    def pending(self) -> list[str]:
        """Tables a previous update left unfinished (their snapshots still stand)."""
        return sorted(self._read())

    def recover(self) -> list[str]:
        """Put back what an unfinished earlier update may have damaged; returns those tables."""
        entries = self._read()
        for table, entry in entries.items():
            self._restore(table, entry)
        self._clear()
        return sorted(entries)

    def protect(self, tables: list[str]) -> None:
        """Snapshot the tables (files and checkpoints) and record them in the journal."""
        self._clear()
        entries: dict[str, Any] = {}
        for table in tables:
            location = self.home.table_location(table)
            saved = self.root / table
            entry: dict[str, Any] = {"data": location.is_dir(), "checkpoints": []}
            if entry["data"]:
                _link_copy(location, saved / "data")
            for number, folder in enumerate(self.home.checkpoints(self.pipeline, table)):
                _link_copy(folder, saved / "checkpoints" / str(number))
                entry["checkpoints"].append(str(folder.relative_to(self.home.root)))
            entries[table] = entry
        # Written last: a journal only ever names complete snapshots.
        self._write(entries)

    def release(self, table: str) -> None:
        """The table completed: its snapshot is no longer needed."""
        entries = self._read()
        if entries.pop(table, None) is not None:
            self._write(entries)
        shutil.rmtree(self.root / table, ignore_errors=True)

    def rollback(self) -> list[str]:
        """Put back every table still in the journal (the update did not complete them)."""
        return self.recover()

    def _restore(self, table: str, entry: dict[str, Any]) -> None:
        saved = self.root / table
        _replace(self.home.table_location(table), saved / "data" if entry.get("data") else None)
        # Checkpoints the update created (a full refresh starts a new one) go; saved ones come back.
        recorded = [self.home.root / p for p in entry.get("checkpoints", [])]
        for folder in self.home.checkpoints(self.pipeline, table):
            if folder not in recorded:
                shutil.rmtree(folder, ignore_errors=True)
        for number, folder in enumerate(recorded):
            _replace(folder, saved / "checkpoints" / str(number))

    def _clear(self) -> None:
        self.journal.unlink(missing_ok=True)
        if self.root.exists():
            for child in self.root.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
