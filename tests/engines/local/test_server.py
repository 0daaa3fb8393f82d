"""The home's warm Spark Connect server: how it is started and stopped."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from etl_assets.engines.local.server import _command_line, ensure_warm_spark, server_alive, stop_warm_spark


def ignored_signals(pid: int) -> set[int]:
    """The signals process `pid` ignores (its SigIgn mask in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    line = next(entry for entry in status if entry.startswith("SigIgn:"))
    mask = int(line.split()[1], 16)
    return {number for number in range(1, 64) if mask & (1 << (number - 1))}


@pytest.mark.slow
def test_the_server_ends_on_sigterm_even_when_the_process_starting_it_ignores_sigterm(local_home, monkeypatch):
    """Dagster copies SIGINT's handler onto SIGTERM, so a run started where SIGINT is ignored (a
    background job, nohup) ignores SIGTERM too. The server inherited that: the JVM then installs no
    SIGTERM handler, a stop waited its whole grace period and had to kill it, without the clean-up
    Spark does on SIGTERM. It must take SIGTERM whatever its starter ignores. Its JVM takes Spark's
    own environment settings (memory, JVM options), as the README says."""
    monkeypatch.setenv("SPARK_DRIVER_MEMORY", "1100m")
    monkeypatch.setenv("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1 -Detl_assets.test=1")
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        pid = ensure_warm_spark(local_home, start_timeout=240)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert signal.SIGTERM not in ignored_signals(pid)
    assert {"-Xmx1100m", "-XX:TieredStopAtLevel=1", "-Detl_assets.test=1"} <= set(_command_line(pid))
    # Ctrl-C in the terminal that started a run does not end the shared server (spark-daemon.sh).
    assert signal.SIGINT in ignored_signals(pid)
    assert stop_warm_spark(local_home)
    assert not server_alive(pid)
