"""A real dagster-webserver on 127.0.0.1, asked through its GraphQL API as the UI's pages ask it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ui:
    """The GraphQL API of a webserver on `port`."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}/graphql"

    def query(self, text: str, **variables) -> dict:
        body = json.dumps({"query": text, "variables": variables}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            result = json.loads(answer.read())
        assert "errors" not in result, result["errors"]
        return result["data"]

    def location_name(self) -> str:
        """The name of the one code location, once loaded (the test fails if it did not load)."""
        entries = self.query("{ workspaceOrError { ... on Workspace { locationEntries { name "
                             "loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }")
        (entry,) = entries["workspaceOrError"]["locationEntries"]
        if entry["loadStatus"] != "LOADED":
            raise LookupError("not loaded yet")
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
        return entry["name"]


@contextmanager
def webserver(location: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path,
              timeout: float = 180) -> Iterator[Ui]:
    """`dagster-webserver <location>` (e.g. `-m etl_assets.definitions`), once its code location loaded."""
    port = free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "dagster_webserver", *location, "-h", "127.0.0.1", "-p", str(port)],
            cwd=cwd, env=dict(env), stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        client = Ui(port)
        try:
            deadline = time.monotonic() + timeout
            while True:
                assert server.poll() is None, log.read_text()
                try:
                    client.location_name()
                    break
                except (OSError, LookupError):
                    pass
                assert time.monotonic() < deadline, "the webserver did not load the code location in time"
                time.sleep(1)
            yield client
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
