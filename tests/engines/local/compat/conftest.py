"""Small Databricks-style pipelines run through the local runner, on one warm server per module."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.runner import LocalRunner, RunOutcome
from etl_assets.engines.local.server import stop_warm_spark
from etl_assets.engines.local.tables import read_rows
from etl_assets.project.load import load_config


class Pipelines:
    """Writes one-pipeline projects into a shared home and runs them with the local runner."""

    def __init__(self, root: Path, home: LocalHome):
        self.root = root
        self.home = home

    def project(self, name: str, files: dict[str, str], layers: dict[str, str] | None = None,
                depends: dict[str, list[str]] | None = None) -> Path:
        """A project `name` with one pipeline of the same name, a table per file (`table: code`)."""
        folder = self.root / name
        tables = []
        for table, code in files.items():
            layer = (layers or {}).get(table, "silver")
            path = folder / "transformations" / layer / f"{table}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(code).lstrip("\n"))
            deps = (depends or {}).get(table, [])
            tables.append(f"  - {{name: {table}, layer: {layer}, pipeline: {name}, depends_on: {deps}}}")
        (folder / "config.yml").write_text(f"pipelines:\n  {name}: {{name: {name}}}\ntables:\n" + "\n".join(tables) + "\n")
        return folder / "config.yml"

    def files_project(self, name: str, files: dict[str, str], config: str) -> Path:
        """A project `name` of the given files (`relative path: text`, dedented) and config.yml
        text; the config's path."""
        folder = self.root / name
        for relative, text in {**files, "config.yml": config}.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip())
        return folder / "config.yml"

    def landed(self, folder: str, files: dict[str, str]) -> Path:
        """Raw files (`name: text`) written to the landing folder `folder`, where
        `spark.conf.get("etl_assets.landing_path") + "/<folder>"` reads them; the folder."""
        path = self.home.landing / folder
        path.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (path / name).write_text(text)
        return path

    def run(self, config: Path, tables: list[str] | None = None, full_refresh: bool = False) -> RunOutcome:
        """Run the project's pipeline (all its tables by default); the outcome."""
        loaded = load_config(config, check_files=False)
        key = next(iter(loaded.pipelines))
        selected = tables or [t.name for t in loaded.tables]
        items = list(LocalRunner(loaded, self.home).run(key, selected, full_refresh))
        outcome = items[-1]
        assert isinstance(outcome, RunOutcome)
        return outcome

    def ok(self, config: Path, tables: list[str] | None = None, full_refresh: bool = False) -> RunOutcome:
        """Run and require success."""
        outcome = self.run(config, tables, full_refresh)
        assert outcome.returncode == 0 and outcome.run_status == "COMPLETED", "\n".join(outcome.lines[-60:])
        return outcome

    def rows(self, table: str, database: str | None = None) -> list[dict]:
        """The rows of a local table, sorted by their values."""
        location = self.home.warehouse / f"{database}.db" / table if database else self.home.table_location(table)
        _, rows = read_rows(location)
        return sorted(rows, key=lambda r: [str(v) for v in r.values()])

    def columns(self, table: str) -> list[str]:
        """The column names of a local table, in order."""
        names, _ = read_rows(self.home.table_location(table))
        return names


@contextmanager
def pipelines_on_a_new_home(root: Path) -> Iterator[Pipelines]:
    """`Pipelines` in `root` on a new home there; its warm server is stopped at the end."""
    home = LocalHome(root / "home")
    try:
        yield Pipelines(root, home)
    finally:
        stop_warm_spark(home)


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipelines]:
    """A home shared by the module's tests; its server is stopped at the end."""
    with pipelines_on_a_new_home(tmp_path_factory.mktemp("compat")) as shared:
        yield shared
