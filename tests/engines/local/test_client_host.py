"""The warm client host forks pipeline clients that behave as `python -m etl_assets.engines.local.client`
started as a subprocess: same output, exit status and working folder, stopped the same way."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_assets.engines.local.client_host import CLIENT_MODULE, host_key, socket_path, spawn_host, start_client

pytestmark = pytest.mark.slow

COMMAND = [sys.executable, "-m", CLIENT_MODULE]


@pytest.fixture
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A host serving for as long as a stand-in for the Spark server (a sleeping process) lives."""
    folder = Path(os.path.realpath(tmp_path_factory.mktemp("h")))
    path = socket_path(folder)
    assert path is not None
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    spawn_host(path, server.pid, host_key(), folder / "host.log")
    deadline = time.monotonic() + 120
    while not path.exists():
        assert time.monotonic() < deadline, (folder / "host.log").read_text()
        time.sleep(0.2)
    yield path
    server.kill()
    server.wait()
    deadline = time.monotonic() + 30
    while path.exists() and time.monotonic() < deadline:  # the host ends with its server
        time.sleep(0.2)
    assert not path.exists()


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETL_ASSETS_CONNECT_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def test_a_forked_client_says_and_exits_as_a_subprocess_does(host, tmp_path):
    spec = tmp_path / "spec.yml"
    spec.write_text(f"name: p\nstorage: file://{tmp_path}/storage\nlibraries: []\n")
    hosted = start_client(host, host_key(), [*COMMAND, "--spec", "spec.yml"], _environment(), tmp_path)
    assert hosted is not None
    said = hosted.stdout.read()
    code = hosted.wait(timeout=60)
    direct = subprocess.run([*COMMAND, "--spec", "spec.yml"], cwd=tmp_path, env=_environment(),
                            capture_output=True, text=True)
    assert code == direct.returncode == 1
    assert "ETL_ASSETS_CONNECT_PORT and ETL_ASSETS_CONNECT_TOKEN must name" in said
    # The same lines (log lines carry their moment, so only what follows it is compared).
    assert [line.split(": ", 1)[-1] for line in said.splitlines()] == \
        [line.split(": ", 1)[-1] for line in (direct.stdout + direct.stderr).splitlines()]
    missing = start_client(host, host_key(), [*COMMAND, "--spec", "nothing.yml"], _environment(), tmp_path)
    assert missing is not None and "no pipeline spec at nothing.yml" in missing.stdout.read()
    assert missing.wait(timeout=60) == 2


def test_a_forked_client_is_stopped_by_its_pid_and_reports_the_signal(host, tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    spec = tmp_path / "spec.yml"
    spec.write_text(f"name: p\nstorage: file://{tmp_path}/storage\nlibraries: []\n")
    env = _environment(ETL_ASSETS_CONNECT_PORT=str(port), ETL_ASSETS_CONNECT_TOKEN="t")
    hosted = start_client(host, host_key(), [*COMMAND, "--spec", str(spec)], env, tmp_path)
    assert hosted is not None
    time.sleep(1.0)
    assert hosted.poll() is None  # retrying the port nobody listens on
    with pytest.raises(subprocess.TimeoutExpired):
        hosted.wait(timeout=0.2)
    hosted.terminate()
    assert hosted.wait(timeout=30) == -15


def test_a_runner_of_another_environment_is_refused_and_the_host_makes_room(host, tmp_path):
    assert start_client(host, "another", [*COMMAND, "--help"], _environment(), tmp_path) is None
    deadline = time.monotonic() + 30
    while host.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not host.exists()


def test_only_the_pipeline_client_is_forked(host, tmp_path):
    assert start_client(host, host_key(), [sys.executable, "-c", "print(1)"], _environment(), tmp_path) is None
    assert start_client(None, host_key(), [*COMMAND, "--help"], _environment(), tmp_path) is None
