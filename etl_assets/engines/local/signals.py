"""Holding off the signals that end a run while an update puts its tables back.

An interrupted update must finish its clean-up (stop the server's flows, put the tables back)
or the tables read empty until the next update of the pipeline recovers them. A second
interrupt is the rule, not the exception: Dagster's multiprocess executor forwards the
interrupt to each step process (a SIGINT of its own) after the one the process group already
got, and people press Ctrl-C more than once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

_ENDING = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupts_held() -> Iterator[list[int]]:
    """Within the block SIGINT and SIGTERM are only recorded (the yielded list); after it, the
    handlers in place before run for what came, unless the block is leaving with an exception
    already (which ends the step anyway). Only the main thread can change signal handlers:
    elsewhere signals are delivered to the main thread, never here, and the block runs as is."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def hold(signo: int, _frame: FrameType | None) -> None:
        received.append(signo)

    before: dict[int, Any] = {int(signo): signal.getsignal(signo) for signo in _ENDING}
    for signo in _ENDING:
        signal.signal(signo, hold)
    leaving_with_error = True
    try:
        yield received
        leaving_with_error = False
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
        if received and not leaving_with_error:
            _deliver(received[0], before[received[0]])


def _deliver(signo: int, handler: Any) -> None:
    """Run what would have run had `signo` arrived outside the block."""
    if callable(handler):
        handler(signo, None)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signo)
