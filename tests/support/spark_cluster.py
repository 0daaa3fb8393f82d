"""A Spark standalone cluster on 127.0.0.1 from the installed pyspark: one master, N workers.

    with LoopbackCluster(tmp_path / "cluster", workers=1) as cluster:
        LocalPipelinesResource(master=cluster.url, spark_conf=cluster.app_conf())

Each daemon is `spark-class org.apache.spark.deploy.master.Master` (or `...worker.Worker`) in
a process group of its own, bound to loopback, with small memory and one core per worker;
leaving the block stops every one of them, also when the block fails. `executor_logs()` and
`master_state()` tell which worker ran which application's tasks. With `wait_on_enter=False`
the daemons start in the background while the block does something else, until `wait_ready()`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoopbackCluster:
    """A standalone master and `workers` workers (`cores` and `memory` each) on 127.0.0.1."""

    def __init__(self, root: Path, workers: int = 1, cores: int = 1, memory: str = "1g",
                 start_timeout: float = 120.0, wait_on_enter: bool = True):
        from pyspark.find_spark_home import _find_spark_home

        self.root, self.workers, self.cores, self.memory = root, workers, cores, memory
        self.start_timeout, self.wait_on_enter = start_timeout, wait_on_enter
        self.spark_home = Path(os.environ.get("SPARK_HOME") or _find_spark_home())
        self.port, self.web_port = _free_port(), _free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen[bytes]] = []

    def app_conf(self, executor_memory: str = "512m") -> dict[str, str]:
        """Settings of an application using every core of this cluster, executors of `executor_memory`."""
        return {"spark.executor.memory": executor_memory, "spark.executor.cores": str(self.cores),
                "spark.cores.max": str(self.cores * self.workers), "spark.driver.host": "127.0.0.1"}

    def work_dir(self, number: int) -> Path:
        """Where worker `number` keeps its executors' folders (`app-*/<executor id>/stderr`)."""
        return self.root / f"worker-{number}"

    def __enter__(self) -> LoopbackCluster:
        self.start()
        if self.wait_on_enter:
            self.wait_ready()
        return self

    def start(self) -> None:
        """Launch the master and the workers (the workers register once the master is up)."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._start("master", MASTER_CLASS, "--host", "127.0.0.1", "--port", str(self.port),
                        "--webui-port", str(self.web_port))
            for number in range(self.workers):
                self.work_dir(number).mkdir(parents=True, exist_ok=True)
                self._start(f"worker-{number}", WORKER_CLASS, "--host", "127.0.0.1", "--cores", str(self.cores),
                            "--memory", self.memory, "--webui-port", str(_free_port()),
                            "--work-dir", str(self.work_dir(number)), self.url)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self) -> None:
        """Wait until the master is alive with every worker registered."""
        try:
            self._wait(lambda state: state.get("status") == "ALIVE" and state.get("aliveworkers", 0) >= self.workers,
                       f"the master with {self.workers} worker(s)")
        except BaseException:
            self.stop()
            raise

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def _start(self, name: str, main_class: str, *args: str) -> None:
        env = {**os.environ, "SPARK_HOME": str(self.spark_home), "SPARK_LOCAL_IP": "127.0.0.1",
               "SPARK_DAEMON_MEMORY": "256m", "SPARK_NO_DAEMONIZE": "1"}
        env.pop("SPARK_CONF_DIR", None)
        log = open(self.root / f"{name}.log", "wb")
        try:
            self.processes.append(subprocess.Popen(
                [str(self.spark_home / "bin" / "spark-class"), main_class, *args], env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        finally:
            log.close()

    def master_state(self) -> dict[str, Any]:
        """The master's JSON (`/json/` on its web UI port): workers, active and completed applications."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/json/", timeout=5) as response:
            return dict(json.load(response))

    def _wait(self, ready: Any, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a Spark daemon ended while starting {what}; see the logs in {self.root}")
            try:
                if ready(self.master_state()):
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{what} of the loopback cluster did not come up within {self.start_timeout:.0f} s; "
                           f"see the logs in {self.root}")

    def executor_logs(self) -> dict[int, list[Path]]:
        """The stderr files of the executors each worker ran, by worker number."""
        return {number: sorted(self.work_dir(number).glob("app-*/*/stderr")) for number in range(self.workers)}

    def stop(self) -> None:
        """Stop every daemon (SIGTERM to its process group, SIGKILL after 20 s)."""
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
        self.processes.clear()
