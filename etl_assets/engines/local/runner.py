"""Runs one pipeline update with the in-process pipeline client (`etl_assets.engines.local.client`)
on the home's Spark Connect server, and streams its output."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from etl_assets.conventions import quality_dataset_name
from etl_assets.engines.events import FlowStatus, UpdateStatus
from etl_assets.engines.local.changes import READS_ENV, reads_file
from etl_assets.engines.local.client import PORT_ENV, TOKEN_ENV
from etl_assets.engines.local.client_host import CLIENT_MODULE, HostedClient, host_key, socket_path, spawn_host, start_client
from etl_assets.engines.local.home import HOME_ENV_VAR, LocalHome
from etl_assets.engines.local.progress import FlowEvent, RunEvent, decode
from etl_assets.engines.local.server import ensure_warm_spark, recorded_server, server_alive, stop_warm_spark
from etl_assets.engines.local.signals import interrupts_held
from etl_assets.engines.local.spec import write_spec
from etl_assets.errors import EngineUnavailableError
from etl_assets.project.config import ProjectConfig


@dataclass
class RunOutcome:
    """What a finished run said: the run state, each table's last state, the output."""

    returncode: int | None = None
    run_status: UpdateStatus | None = None
    table_status: dict[str, FlowStatus] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    server_lost: int | None = None  # pid of the warm server, when it stopped during the run

    def error_text(self, limit: int = 40) -> str:
        """Spark's own error lines (exceptions, error classes), without JVM stack frames."""
        if self.server_lost is not None:
            return (f"the local Spark server (pid {self.server_lost}) stopped during the run, so the run was ended; "
                    "the next run starts a new server. Check its logs in <home>/connect/logs if this repeats.")
        keep = [line for line in self.lines if _is_error_line(line)]
        return "\n".join(keep[-limit:]) or "\n".join(self.lines[-limit:])


# An error class such as [PARSE_SYNTAX_ERROR] starts the line that says what is wrong; a
# traceback's `File "...", line N` says where, in the user's code (not in installed packages).
_ERROR_CLASS = re.compile(r"\[[A-Z][A-Z_]+(\.[A-Z_]+)*\]")
_USER_FRAME = re.compile(r'^\s*File "(?![^"]*(site-packages|dist-packages|<frozen))[^"]+", line \d+')


def _is_error_line(line: str) -> bool:
    stripped = line.lstrip()
    if stripped.startswith(("at ", "[Stage")):
        return False
    return ("Error" in line or "Exception" in line or "FAILED" in line or bool(_ERROR_CLASS.search(line))
            or bool(_USER_FRAME.match(line)) or stripped.startswith("^"))


def spark_pipelines_command() -> list[str]:
    """The `spark-pipelines` CLI of the Python running us, or a clear error if absent. Updates run
    through the pipeline client instead; this is for comparing with the bare CLI (bench/, corpus probe)."""
    exe = Path(sys.executable).parent / "spark-pipelines"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("spark-pipelines")
    if found:
        return [found]
    raise EngineUnavailableError(
        "the local engine needs Apache Spark Declarative Pipelines: pip install 'etl-assets[local]' "
        "(pyspark[pipelines] 4.3) and Java 17"
    )


class LocalRunner:
    """Runs config pipelines on local Spark, with all state under one `LocalHome`."""

    def __init__(self, config: ProjectConfig, home: LocalHome | None = None, warm_spark: bool = True):
        self.config = config
        self.home = home or LocalHome.for_project(config.root)
        self.warm_spark = warm_spark

    def datasets(self, tables: Sequence[str]) -> list[str]:
        """The datasets an update of `tables` refreshes: the tables, plus the companion holding
        per-row expectation results of each table that has expectations."""
        companions = [quality_dataset_name(t) for t in tables if self.config.table(t).expectations]
        return [*tables, *companions]

    def command(self, pipeline_key: str, tables: Sequence[str], full_refresh: bool | Sequence[str],
                dry: bool = False) -> list[str]:
        """The pipeline client command refreshing `tables` (fully with `full_refresh`, or only
        those it names; with `dry` only analyzing the graph, as `spark-pipelines dry-run` does)."""
        spec = write_spec(self.config, pipeline_key, self.home)
        full = self.datasets(tables if full_refresh is True else [t for t in tables if t in (full_refresh or ())])
        flags = [("--full-refresh", full), ("--refresh", [d for d in self.datasets(tables) if d not in full])]
        command = [sys.executable, "-m", "etl_assets.engines.local.client", "--spec", str(spec),
                   *[part for flag, names in flags if names for part in (flag, ",".join(names))]]
        return [*command, "--dry-run"] if dry else command

    def environment(self, server: dict[str, object] | None = None) -> dict[str, str]:
        """The environment of the run: this home, its Spark server (`server`, the discovery record:
        port and token, which stay out of the command line), our Python."""
        env = dict(os.environ)
        env["SPARK_CONF_DIR"] = str(self.home.conf_dir)
        env[HOME_ENV_VAR] = str(self.home.root)
        for name in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE", "SPARK_CONNECT_AUTHENTICATE_TOKEN"):
            env.pop(name, None)
        if server is not None:
            env[PORT_ENV] = str(server["port"])
            env[TOKEN_ENV] = str(server["token"])
        env.setdefault("PYSPARK_PYTHON", sys.executable)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def run(
        self, pipeline_key: str, tables: Sequence[str], full_refresh: bool | Sequence[str] = False, dry: bool = False
    ) -> Iterator[str | FlowEvent | RunEvent | RunOutcome]:
        """Start the update and yield each output line (an event's as its message) and each
        flow and run event as it happens, then the `RunOutcome` last."""
        command = self.command(pipeline_key, tables, full_refresh, dry)
        # The client needs a server either way: the warm one of the home, or (warm_spark False)
        # one started for this run and stopped after it.
        yield "starting or reusing the warm local Spark server" if self.warm_spark else "starting a local Spark server"
        server = ensure_warm_spark(self.home)
        record = recorded_server(self.home)
        if record is None:
            raise EngineUnavailableError(f"the local Spark server of {self.home.root} stopped as the run started; "
                                         "run again")
        environment = self.environment(record)
        environment[READS_ENV] = str(reads_file(self.home, pipeline_key))
        try:
            yield from self._client(command, server, environment)
        finally:
            if not self.warm_spark:
                stop_warm_spark(self.home)

    def _start(self, command: list[str], server: int, environment: dict[str, str]) -> subprocess.Popen[str] | HostedClient:
        """The pipeline client: forked by the home's warm client host when one serves (its imports
        are done), else a new Python process (and a host is started for the next updates)."""
        if self.warm_spark:
            host = socket_path(self.home.root / "connect")
            hosted = start_client(host, host_key(), command, environment, self.config.root)
            if hosted is not None:
                return hosted
            if command[:3] == [sys.executable, "-m", CLIENT_MODULE]:
                try:
                    spawn_host(host, server, host_key(), self.home.root / "connect" / "logs" / "client-host.log")
                except OSError:
                    pass  # no host: every update starts its client as a new process
        return subprocess.Popen(
            command, cwd=self.config.root, env=environment, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1,
        )

    def _client(self, command: list[str], server: int,
                environment: dict[str, str]) -> Iterator[str | FlowEvent | RunEvent | RunOutcome]:
        outcome = RunOutcome()
        process = self._start(command, server, environment)
        assert process.stdout is not None
        done = threading.Event()
        # Without its server the client retries the port for many minutes, silently.
        threading.Thread(target=self._watch, args=(server, process, outcome, done), daemon=True).start()
        try:
            for raw in process.stdout:
                line = raw.rstrip("\n").split("\r")[-1]  # progress bars end with carriage returns
                event = decode(line)
                if event is None:
                    outcome.lines.append(line)
                    yield line
                    continue
                outcome.lines += event.text.splitlines()
                yield event.text
                for flow in event.flows:
                    outcome.table_status[flow.table] = flow.status
                    yield flow
                if event.run is not None:
                    outcome.run_status = event.run.status
                    yield event.run
            outcome.returncode = process.wait()
        finally:
            done.set()
            if process.poll() is None:  # the consumer stopped early (run terminated)
                with interrupts_held():
                    process.terminate()
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
        yield outcome

    @staticmethod
    def _watch(server: int, process: subprocess.Popen[str] | HostedClient, outcome: RunOutcome, done: threading.Event) -> None:
        while not done.wait(1.0):
            if not server_alive(server):
                outcome.server_lost = server
                process.terminate()
                return


__all__ = ["LocalRunner", "RunOutcome", "ensure_warm_spark", "spark_pipelines_command", "stop_warm_spark"]
