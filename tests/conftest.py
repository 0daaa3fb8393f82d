"""Shared fixtures: scenario projects (written to a temporary folder or kept under
tests/scenarios/<name>/), an isolated environment, a local home and the fake Databricks workspace."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "tests" / "scenarios"


def scenario(name: str) -> Path:
    """The config.yml of the scenario project tests/scenarios/<name>/."""
    return SCENARIOS / name / "config.yml"


def write_project(root: Path, config_text: str, *, files: bool = True, code: Mapping[str, str] | None = None) -> Path:
    """Write config.yml (dedented), the transformation files `code` holds (path below
    transformations/: text) and, when `files`, a placeholder file for each other readable table."""
    root.mkdir(parents=True, exist_ok=True)
    text = textwrap.dedent(config_text).lstrip("\n")
    path = root / "config.yml"
    path.write_text(text)
    for relative, source in (code or {}).items():
        file = root / "transformations" / relative
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(source)
    if files:
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            doc = {}
        for entry in doc.get("tables") or [] if isinstance(doc, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("layer"), str):
                file = root / "transformations" / entry["layer"] / f"{entry['name']}.py"
                if not file.exists():
                    file.parent.mkdir(parents=True, exist_ok=True)
                    file.write_text(f"# dataset {entry['name']}\n")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """`project(config_text)` writes a scenario project and returns its config path."""
    return lambda text, files=True: write_project(tmp_path / "project", text, files=files)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No test reads the developer's own settings.
    for name in list(os.environ):
        if name.startswith(("ETL_ASSETS_", "DATABRICKS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "absent.databrickscfg"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()


@pytest.fixture
def local_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh ETL_ASSETS_HOME for one test; its warm Spark server is stopped afterwards."""
    from etl_assets.engines.local.home import LocalHome
    from etl_assets.engines.local.runner import stop_warm_spark

    home = LocalHome(tmp_path / "home")
    monkeypatch.setenv("ETL_ASSETS_HOME", str(home.root))
    yield home
    stop_warm_spark(home)


def current_home():
    """The home the `local_home` fixture made, from the $ETL_ASSETS_HOME it set (as the default code
    location reads it), for code that takes the home as an argument."""
    from etl_assets.engines.local.home import HOME_ENV_VAR, LocalHome

    if not os.environ.get(HOME_ENV_VAR):
        raise RuntimeError("current_home() needs the local_home fixture")
    return LocalHome(Path(os.environ[HOME_ENV_VAR]))


def local_resource(**fields):
    """The local engine resource on `current_home()`, with `fields`."""
    from etl_assets.dagster.resources import LocalPipelinesResource

    return LocalPipelinesResource(home=str(current_home().root), **fields)


def tick_sensor(repo, name: str, instance, cursor=None):
    """Evaluate one tick of a sensor of `repo` with the repository's resources (the engine)."""
    from dagster import build_sensor_context

    sensor = repo.get_sensor_def(name)
    context = build_sensor_context(instance=instance, cursor=cursor, repository_def=repo,
                                   resources=repo.get_top_level_resources())
    return sensor.evaluate_tick(context)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The fake Databricks workspace on 127.0.0.1 with the pipelines of the `shop` scenario.

    `fake.cdc` and `fake.orders` are their ids; `fake.resource` an engine resource with fast timings.
    """
    from etl_assets.dagster.resources import DatabricksPipelinesResource
    from tests.support.fake_databricks import FAST, FakeDatabricks

    with FakeDatabricks() as server:
        server.cdc = server.add_pipeline("etl_assets_customers_cdc")
        server.orders = server.add_pipeline("etl_assets_orders")
        # No test reads a real ~/.databrickscfg or reaches beyond loopback.
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no.databrickscfg"))
        monkeypatch.setenv("DATABRICKS_HOST", server.url)
        monkeypatch.setenv("DATABRICKS_TOKEN", server.token)
        # Credentials come from the environment (the SDK's default chain), timings from the resource.
        server.resource = DatabricksPipelinesResource(**FAST)
        yield server
