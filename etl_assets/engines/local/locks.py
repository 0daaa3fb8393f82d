"""Locks that keep concurrent local runs from corrupting each other's tables.

One update per pipeline per home at a time (a second run of the same pipeline would read the
same new files and append them twice), and no update reads a table of another pipeline while
that pipeline rewrites it (open-source Spark deletes a materialized view's files before
writing the new ones). The locks are `flock`s on files under `<home>/locks/`: they hold across
processes (Dagster runs, `etl-assets`, scripts) and vanish with the process that held them, so
a killed run never leaves a lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

from etl_assets.errors import EngineUnavailableError


class LockTimeout(EngineUnavailableError):
    """Another run held a lock for longer than the wait allowed; nothing was refreshed."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another run"
    return f"{info.get('what', 'another run')} (pid {info.get('pid', '?')})"


@contextmanager
def _flock(path: Path, exclusive: bool, what: str, timeout: float, on_wait: Callable[[str], None]) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = open(path, "a+", encoding="utf-8")
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(handle.fileno(), mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(path)
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"{what}: {holder} still holds {path.name} after {timeout:.0f} s; nothing was refreshed. "
                        "Wait for it to finish (or stop it), or raise lock_timeout_seconds on the local engine "
                        "resource."
                    ) from None
                if not waited:
                    on_wait(f"{what}: waiting for {holder}, which holds {path.name}")
                    waited = True
                time.sleep(0.2)
        if exclusive:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"pid": os.getpid(), "what": what}))
            handle.flush()
        yield
    finally:
        handle.close()  # closing the file releases the lock


@contextmanager
def update_locks(root: Path, pipeline: str, writes: Iterable[str], reads: Iterable[str], *, timeout: float,
                 on_wait: Callable[[str], None]) -> Iterator[None]:
    """Hold the locks of one update: its pipeline, the tables it writes (exclusive) and the
    tables of other pipelines it reads (shared).

    Table locks are taken in name order, so two updates never wait on each other in a circle.

    Args:
        root: the folder of lock files (`<home>/locks`).
        pipeline: the pipeline key being updated.
        writes: the tables the update may rewrite.
        reads: tables of other pipelines the update reads.
        timeout: seconds to wait for each lock before giving up with `LockTimeout`.
        on_wait: called once per lock that must be waited for, with a message saying for whom.
    """
    what = f"update of pipeline '{pipeline}'"
    written = set(writes)
    wanted = {name: True for name in written}
    wanted.update({name: False for name in reads if name not in written})
    with ExitStack() as stack:
        stack.enter_context(_flock(root / f"pipeline.{pipeline}.lock", True, what, timeout, on_wait))
        for name in sorted(wanted):
            stack.enter_context(_flock(root / f"table.{name.lower()}.lock", wanted[name], what, timeout, on_wait))
        yield


@contextmanager
def read_locks(root: Path, tables: Iterable[str], what: str, *, timeout: float,
               on_wait: Callable[[str], None]) -> Iterator[None]:
    """Shared locks on tables read outside an update (checks of a table as it is): they wait
    while an update rewrites one of them, and let other readers in."""
    with ExitStack() as stack:
        for name in sorted({t.lower() for t in tables}):
            stack.enter_context(_flock(root / f"table.{name}.lock", False, what, timeout, on_wait))
        yield
