"""Resetting the checkpoints of local streaming tables while keeping their data.

A streaming table of the local engine is a file sink: its folder holds the data files and the
sink's log `_spark_metadata/<batch>`, which lists the files that make up the table, and the
sink skips any batch id its log already has. Each of its flows has a checkpoint
(`storage/<pipeline>/_checkpoints/.../<table>/<flow>/<version>/`): `offsets/<batch>` (the
source positions each batch read up to, one line per source after two header lines),
`commits/<batch>`, and each file source's own log of the files it has seen (`sources/<n>/`).

Deleting the checkpoint would start the query again at batch 0, which the sink's log already
has: the new batches would be skipped without a word; deleting the sink's log too would hide
every file written before. So a reset keeps the batch numbering and the sink's log, and only
forgets what was read: the last two `offsets` entries get no position for any source (`-`, as
Spark writes a source without one), and the sources' seen-file logs go. The next batch is then
numbered after every batch the table holds, and each source reads from its start: the table
keeps its rows and gets the whole source again (Databricks' meaning of a checkpoint reset:
"will not clear the data in the flow's target table").

Files are never changed in place: an `offsets` entry is written beside and renamed over, so the
hard-linked snapshot the update guard took before (`guard`) keeps the old one, and an
interrupted or failed update puts the checkpoint back as it was.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from etl_assets.engines.local.home import LocalHome
from etl_assets.errors import DataError

VOID_OFFSET = "-"  # how Spark's offset log writes a source without a position


@dataclass
class CheckpointReset:
    """The flows' checkpoints to reset, checked before the update starts; `apply` after the
    update guard has taken its snapshot."""

    home: LocalHome
    pipeline: str
    folders: dict[str, list[Path]] = field(default_factory=dict)  # table -> its flows' current checkpoints

    def apply(self) -> list[str]:
        """Reset every checkpoint; returns one line per table saying what was done."""
        said = []
        for table, folders in self.folders.items():
            batches = [_reset(folder) for folder in folders]
            said.append(f"{table}: checkpoint reset, its rows kept; the next batch (after batch "
                        f"{max(batches)}) reads the whole source again")
        return said


def checkpoint_reset(home: LocalHome, pipeline: str, tables: Sequence[str]) -> CheckpointReset:
    """The checkpoints of `tables` (datasets of `pipeline`) to reset; raises `DataError` saying
    why a table cannot be reset here, before anything is changed."""
    reset = CheckpointReset(home, pipeline)
    problems = []
    for table in tables:
        folders = current_checkpoints(home, pipeline, table)
        location = home.table_location(table)
        if not folders:
            problems.append(f"{table} has no streaming checkpoint in {home.root} (it never ran here, or the local "
                            "engine computes it without one, as it does AUTO CDC targets): a normal refresh reads "
                            "its whole source already, a full refresh rebuilds it")
            continue
        if not (location / "_spark_metadata").is_dir():
            problems.append(f"{table} keeps no streaming sink log ({location / '_spark_metadata'}): its files are "
                            "gone; rebuild it with a full refresh")
            continue
        for folder in folders:
            if (folder / "state").is_dir():
                problems.append(f"{table}: flow {folder.parent.name} keeps streaming state ({folder / 'state'}), which "
                                "a reset would have to drop while keeping the rows it produced; rebuild it with a full "
                                "refresh instead")
            planned, committed = _batches(folder / "offsets"), _batches(folder / "commits")
            if planned and max(planned) not in committed:
                problems.append(f"{table}: flow {folder.parent.name} has batch {max(planned)} planned but not "
                                "committed; run a normal refresh first, then reset")
        reset.folders[table] = folders
    if problems:
        raise DataError("cannot reset the checkpoints of pipeline "
                        f"'{pipeline}'; nothing was changed:\n" + "\n".join(f"  {p}" for p in problems))
    return reset


def current_checkpoints(home: LocalHome, pipeline: str, table: str) -> list[Path]:
    """The checkpoint each flow of the table uses now: the newest version under the flow's folder."""
    found = []
    for root in home.checkpoints(pipeline, table):
        for flow in sorted(p for p in root.iterdir() if p.is_dir()):
            versions = [p for p in flow.iterdir() if p.is_dir() and p.name.isdigit()]
            if versions:
                found.append(max(versions, key=lambda p: int(p.name)))
    return found


def _batches(folder: Path) -> set[int]:
    return {int(p.name) for p in folder.iterdir() if p.name.isdigit()} if folder.is_dir() else set()


def _reset(folder: Path) -> int:
    """Forget what the flow read: no position for any source in its last two offsets (Spark
    starts the next batch from the second-last one's), no seen-file logs. Returns the last batch."""
    offsets = folder / "offsets"
    batches = sorted(_batches(offsets))
    if not batches:
        return -1
    for batch in batches[-2:]:
        entry = offsets / str(batch)
        lines = entry.read_text(encoding="utf-8").splitlines()
        header, positions = lines[:2], lines[2:]
        staged = offsets / f".{batch}.reset"
        staged.write_text("\n".join([*header, *([VOID_OFFSET] * len(positions))]), encoding="utf-8")
        # The checksum Hadoop keeps beside the entry would no longer match: without one it is not checked.
        (offsets / f".{batch}.crc").unlink(missing_ok=True)
        os.replace(staged, entry)  # a new file: the snapshot's hard link keeps the old one
    sources = folder / "sources"
    if sources.is_dir():
        aside = folder / ".sources.discarded"
        shutil.rmtree(aside, ignore_errors=True)
        sources.rename(aside)
        shutil.rmtree(aside, ignore_errors=True)
    return batches[-1]
