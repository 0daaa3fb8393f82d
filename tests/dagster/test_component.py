"""`EtlAssetsComponent` loaded from a defs.yaml by Dagster's own component loader."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import AssetKey, Definitions, EnvVar
from dagster.components.core.package_entry import discover_package_objects
from dagster.components.testing import DefsFolderSandbox

from etl_assets import EtlAssetsComponent
from etl_assets.dagster.resources import DatabricksPipelinesResource, LocalPipelinesResource
from etl_assets.errors import ConfigError
from tests.conftest import REPO, write_project
from tests.support.webserver import webserver

CONFIG = """
    pipelines:
      numbers: {name: numbers}
    tables:
      - {name: numbers_bronze, layer: bronze, tags: [daily], source: {path: numbers}}
      - {name: numbers_silver, layer: silver, tags: [daily], depends_on: [numbers_bronze]}
      - {name: numbers_gold, layer: gold, depends_on: [numbers_silver]}
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[DefsFolderSandbox]:
    """A Dagster project in tmp_path: the scenario's config.yml and transformations at its root,
    an empty defs folder in src/<package>/defs."""
    write_project(tmp_path, CONFIG)
    package = f"scenario_{uuid.uuid4().hex[:8]}"
    defs_folder = tmp_path / "src" / package / "defs"
    defs_folder.mkdir(parents=True)
    yield DefsFolderSandbox(project_root=tmp_path, defs_folder_path=defs_folder, project_name=package)
    sys.modules.pop(package, None)


def write_defs_yaml(sandbox: DefsFolderSandbox, text: str) -> Path:
    folder = sandbox.defs_folder_path / "etl"
    folder.mkdir()
    (folder / "defs.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
    return folder


def load(sandbox: DefsFolderSandbox, folder: Path) -> tuple[EtlAssetsComponent, Definitions]:
    with sandbox.load_component_and_build_defs(defs_path=folder) as (component, defs):
        assert isinstance(component, EtlAssetsComponent)
        return component, defs


def error_text(exc: BaseException) -> str:
    """The loader wraps our errors; a user reads the whole chain."""
    parts = []
    while exc is not None:
        parts.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def test_attributes_set_keys_groups_tags_deps_and_local_engine(sandbox: DefsFolderSandbox) -> None:
    folder = write_defs_yaml(sandbox, """
        type: etl_assets.EtlAssetsComponent
        attributes:
          config_path: ../../../../config.yml
          engine:
            type: local
            home: "{{ context.project_root }}/state"
            warm_spark: false
          key_prefix: [lakehouse, sales]
          group_name: "lake_{{ table.layer }}"
          tags:
            domain: sales
            layer: "{{ table.layer }}"
    """)
    _, defs = load(sandbox, folder)

    graph = defs.resolve_asset_graph()
    prefixed = {name: AssetKey(["lakehouse", "sales", name])
                for name in ("raw_numbers", "numbers_bronze", "numbers_silver", "numbers_gold")}
    assert set(graph.get_all_asset_keys()) == set(prefixed.values())
    assert graph.get(prefixed["raw_numbers"]).group_name == "landing"
    for name, layer in (("numbers_bronze", "bronze"), ("numbers_silver", "silver"), ("numbers_gold", "gold")):
        node = graph.get(prefixed[name])
        assert node.group_name == f"lake_{layer}"
        assert {"domain": "sales", "layer": layer}.items() <= node.tags.items()
    assert "daily" in graph.get(prefixed["numbers_bronze"]).tags
    assert graph.get(prefixed["numbers_bronze"]).parent_keys == {prefixed["raw_numbers"]}
    assert graph.get(prefixed["numbers_silver"]).parent_keys == {prefixed["numbers_bronze"]}
    assert graph.get(prefixed["numbers_gold"]).parent_keys == {prefixed["numbers_silver"]}

    sensor = defs.resolve_sensor_def("landing_files")
    # Listed under the table its runs request: the bronze table reading the landing files.
    assert set(sensor.asset_selection.resolve(graph)) == {prefixed["numbers_bronze"]}

    engine = defs.resources["engine"]
    assert isinstance(engine, LocalPipelinesResource)
    assert engine.home == str(sandbox.project_root.resolve() / "state")
    assert engine.warm_spark is False


DATABRICKS_DEFS = """
    type: etl_assets.dagster.component.EtlAssetsComponent
    attributes:
      config_path: "{{ context.project_root }}/config.yml"
      engine:
        type: databricks
        host: "https://{{ env.WORKSPACE }}.azuredatabricks.net"
        token: "{{ env.DATABRICKS_TOKEN }}"
        profile: prod
        poll_seconds: 0.5
        max_poll_seconds: "{{ env.ETL_MAX_POLL }}"
        landing_volume: /Volumes/main/etl/landing
"""
DATABRICKS_ENV = {"DATABRICKS_TOKEN": "dapi-very-secret", "WORKSPACE": "adb-123", "ETL_MAX_POLL": "30"}


def test_databricks_engine_keeps_secrets_out_of_the_resource(sandbox: DefsFolderSandbox,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in DATABRICKS_ENV.items():
        monkeypatch.setenv(name, value)
    _, defs = load(sandbox, write_defs_yaml(sandbox, DATABRICKS_DEFS))

    engine = defs.resources["engine"]
    assert isinstance(engine, DatabricksPipelinesResource)
    assert engine.host == "https://adb-123.azuredatabricks.net"
    assert isinstance(engine.token, EnvVar) and engine.token.env_var_name == "DATABRICKS_TOKEN"
    assert (engine.profile, engine.poll_seconds, engine.max_poll_seconds) == ("prod", 0.5, 30.0)
    assert engine.landing_volume == "/Volumes/main/etl/landing"
    assert AssetKey("numbers_gold") in defs.resolve_asset_graph().get_all_asset_keys()


RESOURCE = """
query($selector: ResourceSelector!) { topLevelResourceDetailsOrError(resourceSelector: $selector) {
  __typename ... on ResourceDetails { configuredValues { key value type } } } }
"""


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_ui_shows_the_tokens_variable_never_its_value(sandbox: DefsFolderSandbox, tmp_path: Path) -> None:
    write_defs_yaml(sandbox, DATABRICKS_DEFS)
    # A code location of the sandbox's defs folder, served by a real webserver.
    for folder in (sandbox.defs_folder_path.parent, sandbox.defs_folder_path):
        (folder / "__init__.py").touch()
    location = sandbox.project_root / "location.py"
    location.write_text(textwrap.dedent(f"""
        import importlib
        import sys
        from pathlib import Path

        from dagster.components import load_defs

        sys.path.insert(0, str(Path(__file__).parent / "src"))
        defs = load_defs(importlib.import_module("{sandbox.project_name}.defs"), project_root=Path(__file__).parent)
    """))
    env = {**os.environ, **DATABRICKS_ENV,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with webserver(["-f", str(location)], cwd=sandbox.project_root, env=env, log=tmp_path / "webserver.log") as ui:
        selector = {"repositoryLocationName": ui.location_name(), "repositoryName": "__repository__",
                    "resourceName": "engine"}
        details = ui.query(RESOURCE, selector=selector)["topLevelResourceDetailsOrError"]
    assert details["__typename"] == "ResourceDetails", details
    shown = {v["key"]: (v["type"], v["value"]) for v in details["configuredValues"]}
    assert shown["token"] == ("ENV_VAR", "DATABRICKS_TOKEN")
    assert shown["host"] == ("VALUE", json.dumps("https://adb-123.azuredatabricks.net"))
    assert "dapi-very-secret" not in json.dumps(details)


def test_engine_defaults_to_the_environment(sandbox: DefsFolderSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_ASSETS_ENGINE", "databricks")
    folder = write_defs_yaml(sandbox, """
        type: etl_assets.EtlAssetsComponent
        attributes:
          config_path: ../../../../config.yml
    """)
    _, defs = load(sandbox, folder)
    assert isinstance(defs.resources["engine"], DatabricksPipelinesResource)
    assert defs.resolve_asset_graph().get(AssetKey("numbers_silver")).group_name == "silver"


def test_a_local_engine_without_a_home_takes_the_environments(sandbox: DefsFolderSandbox, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_ASSETS_HOME", str(tmp_path / "state"))
    folder = write_defs_yaml(sandbox, """
        type: etl_assets.EtlAssetsComponent
        attributes: {config_path: ../../../../config.yml, engine: {type: local, warm_spark: false}}
    """)
    engine = load(sandbox, folder)[1].resources["engine"]
    assert isinstance(engine, LocalPipelinesResource)
    assert (engine.home, engine.warm_spark) == (str(tmp_path / "state"), False)


def test_unknown_engine_type_names_the_choices_and_the_line(sandbox: DefsFolderSandbox) -> None:
    folder = write_defs_yaml(sandbox, """
        type: etl_assets.EtlAssetsComponent
        attributes:
          config_path: ../../../../config.yml
          engine:
            type: spark
    """)
    with pytest.raises(Exception) as raised:
        load(sandbox, folder)
    text = error_text(raised.value)
    assert "Input tag 'spark'" in text
    assert "expected tags: 'local', 'databricks'" in text
    assert "defs.yaml:4" in text


def test_a_field_the_engine_does_not_have_is_refused(sandbox: DefsFolderSandbox) -> None:
    folder = write_defs_yaml(sandbox, """
        type: etl_assets.EtlAssetsComponent
        attributes:
          config_path: ../../../../config.yml
          engine:
            type: local
            hostname: https://adb-1.azuredatabricks.net
    """)
    with pytest.raises(Exception) as raised:
        load(sandbox, folder)
    text = error_text(raised.value)
    assert "local.hostname" in text
    assert "Extra inputs are not permitted" in text


def test_group_name_rendering_to_nothing_names_the_table_and_the_line(sandbox: DefsFolderSandbox) -> None:
    folder = write_defs_yaml(sandbox, """
        type: etl_assets.EtlAssetsComponent
        attributes:
          config_path: ../../../../config.yml
          group_name: "{{ env.ETL_GROUP_NOT_SET }}"
    """)
    with pytest.raises(Exception) as raised:
        load(sandbox, folder)
    text = error_text(raised.value)
    assert "defs.yaml:4: table 'numbers_bronze': group_name '{{ env.ETL_GROUP_NOT_SET }}' renders to None" in text


def test_missing_config_file_says_where_config_path_is_read_from(sandbox: DefsFolderSandbox) -> None:
    folder = write_defs_yaml(sandbox, """
        type: etl_assets.EtlAssetsComponent
        attributes:
          config_path: config.yml
    """)
    with pytest.raises(Exception) as raised:
        load(sandbox, folder)
    assert isinstance(raised.value.__cause__, ConfigError)
    text = str(raised.value.__cause__)
    assert str(folder / "config.yml") in text
    assert "config file not found" in text
    assert "relative to its folder" in text


def test_scaffold_writes_a_defs_yaml_that_loads(sandbox: DefsFolderSandbox) -> None:
    folder = sandbox.scaffold_component(
        EtlAssetsComponent, defs_path="etl",
        scaffold_params={"config_path": str(sandbox.project_root / "config.yml"), "engine": "databricks"},
    )
    text = (folder / "defs.yaml").read_text()
    assert "config_path: '{{ context.project_root }}/config.yml'" in text
    assert "type: databricks" in text

    _, defs = load(sandbox, folder)
    assert isinstance(defs.resources["engine"], DatabricksPipelinesResource)
    assert AssetKey("numbers_bronze") in defs.resolve_asset_graph().get_all_asset_keys()


def test_registered_where_dg_looks_for_components() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    modules = list(pyproject["project"]["entry-points"]["dagster_dg_cli.registry_modules"].values())
    found = {key.to_typename(): obj for key, obj in discover_package_objects(modules).items()}
    assert found["etl_assets.EtlAssetsComponent"] is EtlAssetsComponent
