"""The home's warm Spark Connect server: how it is started and stopped."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from etl_assets.engines.local.server import ensure_warm_spark, server_alive, stop_warm_spark


def ignored_signals(pid: int) -> set[int]:
    """The signals process `pid` ignores (its SigIgn mask in /proc)."""
    line = next(l for l in Path(f"/proc/{pid}/status").read_text().splitlines() if l.startswith("SigIgn:"))
    mask = int(line.split()[1], 16)
    return {number for number in range(1, 64) if mask & (1 << (number - 1))}


@pytest.mark.slow
def test_the_server_ends_on_sigterm_even_when_the_process_starting_it_ignores_sigterm(local_home):
    """Dagster copies SIGINT's handler onto SIGTERM, so a run started where SIGINT is ignored (a
    background job, nohup) ignores SIGTERM too. The server inherited that: the JVM then installs no
    SIGTERM handler, a stop waited its whole grace period and had to kill it, without the clean-up
    Spark does on SIGTERM. It must take SIGTERM whatever its starter ignores."""
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        pid = ensure_warm_spark(local_home, start_timeout=240)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert signal.SIGTERM not in ignored_signals(pid)
    # Ctrl-C in the terminal that started a run does not end the shared server (spark-daemon.sh).
    assert signal.SIGINT in ignored_signals(pid)
    assert stop_warm_spark(local_home)
    assert not server_alive(pid)
