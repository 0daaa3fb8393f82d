"""The warm pipeline client of a home: Spark Connect's client libraries imported once, each
update's pipeline client a fork of it.

Starting the pipeline client as a new Python process costs about a second before it does
anything (pyspark's Spark Connect client needs pandas, pyarrow and grpc, imported on every
start). The host does those imports once, beside the home's warm Spark server, and for each
update forks a process that runs `etl_assets.engines.local.client` exactly as
`python -m etl_assets.engines.local.client ...` would: the runner's command line, environment
and working folder, its output into the runner's pipe, with this package's modules imported
afresh (so edited code is what runs). The runner gets the pid and, when it ends, the exit
status, and stops it as it stops a subprocess (SIGTERM, then SIGKILL).

    python -m etl_assets.engines.local.client_host SOCKET SERVER_PID KEY

The host listens on `<home>/connect/client.sock` and ends by itself when the home's Spark server
(SERVER_PID) has stopped or it has been idle for `IDLE_SECONDS`. It holds no connection to the
server and no thread, so a fork starts clean. `KEY` names the Python and pyspark it imported: a
runner whose key differs (another virtualenv, an upgrade) stops it and starts another. Whenever
the host cannot serve (absent, starting, refused), the runner starts the client as a
subprocess, as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

CLIENT_MODULE = "etl_assets.engines.local.client"
IDLE_SECONDS = 1800.0
# What every pipeline client imports first: the slow part of its start.
_PRELOAD = (
    "pyspark.sql.connect.session",
    "pyspark.sql.connect.dataframe",
    "pyspark.sql.connect.functions",
    "pyspark.pipelines.cli",
    "pyspark.pipelines.spark_connect_pipeline",
    "pyspark.pipelines.spark_connect_graph_element_registry",
    "pyspark.pipelines.graph_element_registry",
    "pyspark.pipelines.add_pipeline_analysis_context",
    "pyspark.pipelines.block_session_mutations",
    "pyarrow.parquet",
    "sqlglot",
    "yaml",
)
_MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to 108 bytes


@lru_cache(maxsize=1)
def host_key() -> str:
    """What a host must have imported to serve this process's runs: the Python, its module
    search path and pyspark's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        spark = version("pyspark")
    except PackageNotFoundError:
        spark = "none"
    text = json.dumps([sys.executable, os.environ.get("PYTHONPATH", ""), spark])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def socket_path(connect_dir: Path) -> Path | None:
    """The host's socket for a home's `connect/` folder; None when the path is too long for one."""
    path = connect_dir / "client.sock"
    return path if len(os.fsencode(path)) <= _MAX_SOCKET_PATH else None


class HostedClient:
    """A pipeline client forked by the host, driven as `subprocess.Popen` is (what the runner uses
    of it: `stdout`, `pid`, `poll`, `wait`, `terminate`, `kill`)."""

    def __init__(self, connection: socket.socket, pid: int, stdout: IO[str]):
        self._connection = connection
        self._answer = b""
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit status once the client has ended, else None."""
        if self.returncode is None:
            self._read(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the client's end; its exit status (a signal's as its negative number)."""
        if self.returncode is None:
            self._read(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(CLIENT_MODULE, timeout or 0.0)
        return self.returncode

    def _read(self, timeout: float | None) -> None:
        self._connection.settimeout(timeout)
        try:
            while b"\n" not in self._answer:
                chunk = self._connection.recv(64)
                if not chunk:  # the host's watcher is gone: the client's status is lost with it
                    self.returncode = self._returncode_of_lost()
                    return
                self._answer += chunk
        except (BlockingIOError, socket.timeout):
            return
        except OSError:
            self.returncode = self._returncode_of_lost()
            return
        self.returncode = int(json.loads(self._answer.split(b"\n", 1)[0])["returncode"])
        self._connection.close()

    def _returncode_of_lost(self) -> int:
        # Without the watcher's word on the client's end, the run counts as failed.
        self._connection.close()
        return 1

    def terminate(self) -> None:
        """SIGTERM to the client."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the client."""
        self._signal(signal.SIGKILL)

    def _signal(self, number: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, number)
            except ProcessLookupError:
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_client(path: Path | None, key: str, command: Sequence[str], env: dict[str, str],
                 cwd: Path) -> HostedClient | None:
    """The pipeline client of `command` (`python -m etl_assets.engines.local.client ...`) forked by
    the home's host, its output on a pipe; None when no host serves (the caller starts a
    subprocess)."""
    if path is None or list(command[:3]) != [sys.executable, "-m", CLIENT_MODULE] or not path.exists():
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    read_end, write_end = os.pipe()
    try:
        connection.settimeout(5.0)
        connection.connect(str(path))
        request = json.dumps({"key": key, "argv": list(command[3:]), "env": env, "cwd": str(cwd)}).encode()
        socket.send_fds(connection, [len(request).to_bytes(8, "big") + request], [write_end])
        os.close(write_end)
        write_end = -1
        answer = b""
        while b"\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                raise OSError("the client host closed the connection")
            answer += chunk
        reply = json.loads(answer.split(b"\n", 1)[0])
        if "pid" not in reply:
            raise OSError(str(reply.get("refused", "refused")))
    except (OSError, ValueError):
        connection.close()
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
        return None
    client = HostedClient(connection, int(reply["pid"]), os.fdopen(read_end, "r", buffering=1))
    client._answer = answer.split(b"\n", 1)[1]
    return client


def spawn_host(path: Path | None, server_pid: int, key: str, log: Path) -> None:
    """Start the host for the next updates in the background (this one does not wait for it)."""
    if path is None:
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        subprocess.Popen(
            [sys.executable, "-m", "etl_assets.engines.local.client_host", str(path), str(server_pid), key],
            stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True, close_fds=True,
        )


# --- The host -------------------------------------------------------------------------------------


def serve(path: Path, server_pid: int, key: str) -> None:
    """Import the client's libraries, then fork a pipeline client for each request on `path`."""
    import importlib

    for module in _PRELOAD:
        importlib.import_module(module)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    staged.unlink(missing_ok=True)
    listener.bind(str(staged))
    os.chmod(staged, 0o600)
    os.replace(staged, path)  # a host started before is no longer found
    inode = os.stat(path).st_ino
    listener.listen(8)
    listener.settimeout(2.0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # watchers are reaped by the system
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    idle_since = time.monotonic()
    try:
        while _alive(server_pid) and time.monotonic() - idle_since < IDLE_SECONDS:
            if not _same_inode(inode, path):
                return  # replaced by another host
            try:
                connection, _ = listener.accept()
            except socket.timeout:
                continue
            idle_since = time.monotonic()
            try:
                _answer(connection, listener, key)
            except (OSError, ValueError):
                traceback.print_exc()
            if not _alive(server_pid):
                break
    finally:
        if _same_inode(inode, path):
            path.unlink(missing_ok=True)


def _same_inode(inode: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == inode
    except OSError:
        return False


def _answer(connection: socket.socket, listener: socket.socket, key: str) -> None:
    connection.settimeout(10.0)
    header, fds, _, _ = socket.recv_fds(connection, 8, 4)
    if len(header) < 8 or len(fds) != 1:
        for fd in fds:
            os.close(fd)
        connection.close()
        return
    size = int.from_bytes(header, "big")
    body = b""
    while len(body) < size:
        chunk = connection.recv(min(1 << 20, size - len(body)))
        if not chunk:
            break
        body += chunk
    request = json.loads(body)
    output = fds[0]
    if request.get("key") != key:
        connection.sendall(json.dumps({"refused": "another Python or pyspark"}).encode() + b"\n")
        connection.close()
        os.close(output)
        raise SystemExit(0)  # a runner of another environment: make room for its own host
    if os.fork() == 0:  # the watcher: forks the client, reports its pid and its exit status
        try:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            pid = os.fork()
            if pid == 0:
                connection.close()
                _become_client(request, output)
            os.close(output)
            connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            try:
                connection.sendall(json.dumps({"returncode": code}).encode() + b"\n")
            except OSError:
                pass
        finally:
            os._exit(0)
    connection.close()
    os.close(output)


def _become_client(request: dict[str, Any], output: int) -> None:
    """In the forked process: be `python -m etl_assets.engines.local.client <argv>`. Never returns."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [CLIENT_MODULE, *request["argv"]]
        sys.path[0] = request["cwd"]
        for name in [m for m in sys.modules if m == "etl_assets" or m.startswith("etl_assets.")]:
            del sys.modules[name]  # this package's code as it is now, not as when the host started
        import importlib

        client = importlib.import_module(CLIENT_MODULE)
        try:
            client.main(request["argv"])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, int) and exc.code is not None:
                print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 (printed as Python prints an uncaught error)
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


__all__ = ["HostedClient", "host_key", "socket_path", "spawn_host", "start_client"]


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m etl_assets.engines.local.client_host SOCKET SERVER_PID KEY`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        raise SystemExit("usage: python -m etl_assets.engines.local.client_host SOCKET SERVER_PID KEY")
    serve(Path(args[0]), int(args[1]), args[2])


if __name__ == "__main__":
    main()

