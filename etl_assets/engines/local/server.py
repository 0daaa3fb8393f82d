"""The warm Spark Connect server of a home: started once, reused, checked, stopped.

pyspark records the server in `<home>/connect/discovery.json` (port, token, pid). That file
can be stale (the server died), corrupt, deleted, or point at a port something else now
listens on; each case is detected here and the server replaced, never waited on. A server
belongs to a home when its command line carries the home's metastore
(`-Dderby.system.home=<home>/metastore`): that finds it even without the discovery file.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from etl_assets.engines.local.home import LocalHome
from etl_assets.errors import EngineUnavailableError

_SERVER_CLASS = "SparkConnectServer"
# The server inherits what its starter ignores. Dagster copies SIGINT's handler onto SIGTERM, so
# a run started where SIGINT is ignored (a background job, nohup) ignores SIGTERM as well; a JVM
# started so installs no SIGTERM handler, and a stop could only kill it after its grace period,
# without Spark's clean shut-down. SIGTERM is therefore put back to its default before starting
# (spark-daemon.sh itself leaves SIGINT and SIGHUP ignored: Ctrl-C in a terminal does not end
# the shared server).
_START_SERVER = """
import json, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_DFL)
from pyspark.sql.connect.local_server import reuse_or_start_local_connect_server
print(reuse_or_start_local_connect_server(sys.argv[1], json.loads(sys.stdin.read())))
"""


def _command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def server_pids(home: LocalHome) -> list[int]:
    """Pids of the Spark Connect servers serving this home (normally none or one)."""
    marker = f"-Dderby.system.home={home.metastore}"
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if entry.name.isdigit():
            words = _command_line(int(entry.name))
            if marker in words and any(_SERVER_CLASS in w for w in words):
                found.append(int(entry.name))
    return found


def recorded_server(home: LocalHome) -> dict[str, object] | None:
    """The discovery record, if it is readable and names a live server of this home."""
    try:
        data = json.loads(home.connect_discovery.read_text(encoding="utf-8"))
        pid, port = int(data["pid"]), int(data["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid not in server_pids(home):
        return None  # stale: the pid is gone, or is some other process now
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            return None
    return data


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _forget(home: LocalHome) -> None:
    folder = home.connect_discovery.parent
    for path in [home.connect_discovery, *folder.glob("spark-local-connect-*.pid")]:
        path.unlink(missing_ok=True)


def ensure_warm_spark(home: LocalHome, *, start_timeout: float = 300) -> int:
    """Start the home's Spark Connect server unless a healthy one serves it; returns its pid.

    The server reads its static settings (`home.spark_conf()`: Hive catalog, warehouse,
    metastore, no UI) only from what starts it, so they are handed over here; the pipeline
    client then connects to it by port and token. A server of this home that the discovery
    file does not describe correctly is stopped first: a second server on the same metastore
    cannot start.
    """
    home.prepare()
    # Two runs starting at once would each see no server and stop the one the other is starting.
    with open(home.connect_discovery.parent / "start.lock", "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        return _ensure(home, start_timeout)


def _settings_record(home: LocalHome) -> Path:
    return home.connect_discovery.parent / "server-settings.sha256"


def server_master(pid: int) -> str | None:
    """The Spark master the server `pid` was started on (its `--master`), if it can be read."""
    words = _command_line(pid)
    return next((words[i + 1] for i, w in enumerate(words[:-1]) if w == "--master"), None)


def _refuse_other_settings(home: LocalHome, pid: int) -> None:
    """A running server started with another master or other settings is not this home's
    configuration: its runs would go elsewhere than asked. Stopping it could end another
    pipeline's update running on it, so the run is refused instead."""
    try:
        started_with = _settings_record(home).read_text(encoding="utf-8").strip()
    except OSError:
        started_with = LocalHome(home.root).server_fingerprint()  # started before settings were recorded
    if started_with == home.server_fingerprint():
        return
    running = server_master(pid) or "an unknown master"
    raise EngineUnavailableError(
        f"the warm Spark server of {home.root} (pid {pid}) runs on {running} with other settings than this run "
        f"asks for (master {home.master}, spark_conf as configured); nothing was refreshed. Stop it once no run "
        "uses it (`etl-assets stop-spark`), and the next run starts one with the new settings"
    )


def check_server_settings(home: LocalHome) -> None:
    """Refuse, before an update touches anything, a running server of this home started with
    another master or other settings (`EngineUnavailableError`)."""
    recorded = recorded_server(home)
    if recorded is not None:
        _refuse_other_settings(home, int(str(recorded["pid"])))


def _ensure(home: LocalHome, start_timeout: float) -> int:
    recorded = recorded_server(home)
    if recorded is not None:
        _refuse_other_settings(home, int(str(recorded["pid"])))
        return int(str(recorded["pid"]))
    for pid in server_pids(home):
        _terminate(pid)
    _forget(home)
    env = {**os.environ, "SPARK_CONF_DIR": str(home.conf_dir),
           "SPARK_LOCAL_CONNECT_DISCOVERY": str(home.connect_discovery)}
    # Python UDFs run in the server's Python workers: this interpreter (with pyarrow and the
    # project's packages), not the first `python3` of the PATH, unless PYSPARK_PYTHON says otherwise.
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    # pyspark would try 15002 first: two homes starting at once could then both record it,
    # and one's client would reach the other's server. A free port of our own avoids that.
    options = {**home.spark_conf(), "spark.local.connect.server.port": str(_free_port())}
    try:
        _settings_record(home).write_text(home.server_fingerprint() + "\n", encoding="utf-8")
        # The settings go through stdin, not the command line any user can read: they may hold credentials.
        result = subprocess.run([sys.executable, "-c", _START_SERVER, home.master], input=json.dumps(options),
                                env=env, capture_output=True, text=True, timeout=start_timeout)
    except subprocess.TimeoutExpired:
        raise EngineUnavailableError(
            f"the local Spark server did not start within {start_timeout:.0f} s (logs in "
            f"{home.connect_discovery.parent / 'logs'}); check that Java 17 works (`java -version`) and that the "
            "machine has free memory, then run again"
        ) from None
    recorded = recorded_server(home) if result.returncode == 0 else None
    if recorded is None:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise EngineUnavailableError(
            f"could not start the local Spark server (logs in {home.connect_discovery.parent / 'logs'}); "
            f"set warm_spark: false on the local engine resource to start Spark per run instead:\n{tail}"
        )
    return int(str(recorded["pid"]))


def _terminate(pid: int, grace: float = 20.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or _zombie(pid):
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def stop_warm_spark(home: LocalHome) -> bool:
    """Stop every Spark Connect server of this home, found by its metastore even without the
    discovery file; False if none was running."""
    pids = server_pids(home)
    for pid in pids:
        _terminate(pid)
    _forget(home)
    return bool(pids)


def server_alive(pid: int) -> bool:
    """Whether the server process `pid` still runs."""
    return Path(f"/proc/{pid}").exists() and not _zombie(pid)
