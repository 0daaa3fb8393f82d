"""`EtlAssetsComponent`: a project's tables as a Dagster component, declared in a `defs.yaml`.

    type: etl_assets.EtlAssetsComponent
    attributes:
      config_path: "{{ context.project_root }}/config.yml"
      engine:
        type: databricks
        profile: prod
        token: "{{ env.DATABRICKS_TOKEN }}"
      key_prefix: lakehouse
      group_name: "lakehouse_{{ table.layer }}"
      tags: {domain: sales}

`dg scaffold defs etl_assets.EtlAssetsComponent <folder>` writes such a file; the component
builds what `build_definitions` builds, with a translator made from the attributes.
"""

# No `from __future__ import annotations`: Dagster derives the defs.yaml schema from these
# annotations at run time, including the `Resolver` objects inside `Annotated`.
import inspect
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from dagster import AssetKey, ComponentLoadContext, Definitions, EnvVar
from dagster.components import (
    Component,
    ComponentTypeSpec,
    Model,
    ResolutionContext,
    Resolvable,
    Resolver,
    Scaffolder,
    ScaffoldRequest,
    scaffold_component,
    scaffold_with,
)
from pydantic import BaseModel, Field, PrivateAttr, create_model

from etl_assets.dagster.definitions import Settings, build_definitions
from etl_assets.dagster.resources import DatabricksPipelinesResource, LocalPipelinesResource, PipelinesEngineResource
from etl_assets.dagster.translator import TableTranslator
from etl_assets.errors import ConfigError, ConfigProblem
from etl_assets.project.config import ProjectConfig, Table

ENGINE_RESOURCES: Mapping[str, type[PipelinesEngineResource]] = {
    "local": LocalPipelinesResource,
    "databricks": DatabricksPipelinesResource,
}

# A whole value `{{ env.NAME }}` or `{{ env('NAME') }}`, without a default.
_ENV_REFERENCE = re.compile(r"^\{\{\s*env(?:\.(\w+)|\(\s*['\"](\w+)['\"]\s*\))\s*\}\}$")


def _engine_block(kind: str, resource: type[PipelinesEngineResource]) -> type[BaseModel]:
    # The block's fields are the resource's own, so the two cannot drift apart. Fields that
    # are not strings also take a string, so they can be templated like any attribute; the
    # resource checks the rendered value.
    fields: dict[str, Any] = {
        name: (info.annotation if _is_string_field(resource, name) else info.annotation | str,
               Field(default=info.default, description=info.description))
        for name, info in resource.model_fields.items()
    }
    return create_model(
        f"{kind.capitalize()}EngineAttributes",
        __base__=Model,
        __module__=__name__,
        __doc__=f"`type: {kind}` and the fields of `{resource.__name__}`.",
        # A literal built from a variable: checkers cannot see it as a type form.
        type=(Literal[kind], Field(description="the engine that runs the pipelines")),  # type: ignore[arg-type]
        **fields,
    )


def _is_string_field(resource: type[PipelinesEngineResource], name: str) -> bool:
    return resource.model_fields[name].annotation in (str, str | None)


LocalEngineAttributes = _engine_block("local", LocalPipelinesResource)
DatabricksEngineAttributes = _engine_block("databricks", DatabricksPipelinesResource)
# Models made at import time (their fields follow the resources): checkers see variables, not types.
EngineAttributes = Annotated[
    LocalEngineAttributes | DatabricksEngineAttributes,  # type: ignore[valid-type]
    Field(discriminator="type"),
]


def _resolve_engine(context: ResolutionContext, block: BaseModel) -> PipelinesEngineResource:
    resource = ENGINE_RESOURCES[getattr(block, "type")]
    fields = {
        name: _engine_field(context.at_path(name), value, string=_is_string_field(resource, name))
        for name, value in block.model_dump(exclude_unset=True, exclude={"type"}).items()
    }
    return resource(**fields)


def _engine_field(context: ResolutionContext, value: Any, *, string: bool) -> Any:
    # The UI shows a resource's configured values; an `EnvVar` shows only the variable's name,
    # so a secret given as `{{ env.NAME }}` stays out of it and is read where the run executes.
    reference = _ENV_REFERENCE.match(value) if string and isinstance(value, str) else None
    if reference:
        return EnvVar(reference.group(1) or reference.group(2))
    return context.resolve_value(value)


def _resolve_config_path(context: ResolutionContext, value: str) -> Path:
    return context.resolve_source_relative_path(value)


def _keep_template(context: ResolutionContext, value: Any) -> Any:
    # Rendered per table by `AttributesTranslator`, where `table` is in scope.
    return value


class EtlAssetsScaffoldParams(BaseModel):
    """`dg scaffold defs etl_assets.EtlAssetsComponent <folder> [--config-path PATH] [--engine TYPE]`."""

    config_path: str | None = Field(
        default=None, description="config.yml of the project (default: config.yml in the project root)")
    engine: Literal["local", "databricks"] = Field(default="local", description="the engine that runs the pipelines")


class EtlAssetsScaffolder(Scaffolder[EtlAssetsScaffoldParams]):
    """Writes a defs.yaml naming the project's config.yml and an engine."""

    @classmethod
    def get_scaffold_params(cls) -> type[EtlAssetsScaffoldParams]:
        """The options `dg scaffold defs` takes for this component."""
        return EtlAssetsScaffoldParams

    def scaffold(self, request: ScaffoldRequest[EtlAssetsScaffoldParams]) -> None:
        """Write a defs.yaml naming this component with the scaffold options filled in."""
        scaffold_component(request, {
            "config_path": _scaffold_config_path(request.params.config_path, request.project_root),
            "engine": {"type": request.params.engine},
        })


def _scaffold_config_path(given: str | None, project_root: Path | None) -> str:
    # Written relative to the project root, so the defs folder can move within the project.
    if given is None:
        return "{{ context.project_root }}/config.yml"
    path = Path(given).resolve()
    if project_root is not None and path.is_relative_to(project_root.resolve()):
        return f"{{{{ context.project_root }}}}/{path.relative_to(project_root.resolve()).as_posix()}"
    return str(path)


@scaffold_with(EtlAssetsScaffolder)
class EtlAssetsComponent(Component, Resolvable, Model):
    """The tables of a config.yml as Dagster assets, with their checks, schedules, sensors and engine.

    Attributes (the `attributes:` of a defs.yaml):
        config_path: the project's config.yml, relative to the defs.yaml's folder, or
            `"{{ context.project_root }}/config.yml"`.
        engine: `type: local` or `type: databricks` and that engine resource's fields (`home`,
            `warm_spark`; `host`, `token`, `profile`, `poll_seconds`, `landing_volume`, ...).
            A string field given as exactly `{{ env.NAME }}` reaches the resource as
            `EnvVar("NAME")`: the UI shows the name, and the variable is read where runs
            execute. Default: $ETL_ASSETS_ENGINE, as the default code location reads it.
        key_prefix: prefix of every asset key, landing assets included (a string is one key
            part, a list several); deps follow.
        group_name: the group of every table's asset, a template rendered per table with
            `table` in scope (`"lakehouse_{{ table.layer }}"`). Default: the table's layer.
            Landing assets stay in the `landing` group.
        tags: tags added to every table's asset; values are rendered per table like
            `group_name`.

    Schedules and automation in config.yml select assets by the keys and groups given here.

    >>> EtlAssetsComponent(config_path="config.yml", key_prefix="lakehouse",
    ...                    engine=LocalPipelinesResource())          # doctest: +SKIP
    """

    config_path: Annotated[Path, Resolver(
        _resolve_config_path, model_field_type=str,
        description="config.yml of the project, relative to this defs.yaml's folder, or "
                    "'{{ context.project_root }}/config.yml'",
    )]
    engine: Annotated[PipelinesEngineResource | None, Resolver(
        _resolve_engine, model_field_type=EngineAttributes,
        description="`type: local` or `type: databricks` and the engine resource's fields; default: $ETL_ASSETS_ENGINE",
    )] = None
    key_prefix: str | Sequence[str] | None = Field(
        default=None, description="prefix of every asset key (landing assets included); a list for several parts")
    group_name: Annotated[str | None, Resolver(
        _keep_template, model_field_type=str, inject_before_resolve=False,
        description="group of every table's asset, rendered per table: e.g. 'lakehouse_{{ table.layer }}'",
    )] = None
    tags: Annotated[Mapping[str, str] | None, Resolver(
        _keep_template, model_field_type=dict[str, str], inject_before_resolve=False,
        description="tags added to every table's asset; values rendered per table like group_name",
    )] = None

    _rendering: ResolutionContext | None = PrivateAttr(default=None)

    @classmethod
    def resolve_from_model(cls, context: ResolutionContext, model: BaseModel) -> "EtlAssetsComponent":
        """The component built from its defs.yaml attributes."""
        component = super().resolve_from_model(context, model)
        # Kept so a template rendered per table reports its line in defs.yaml when it fails.
        component._rendering = context
        return component

    @classmethod
    def get_spec(cls) -> ComponentTypeSpec:
        """What `dg list components` shows of this component: its tags and what it produces."""
        spec: dict[str, Any] = {"tags": ["etl_assets", "lakeflow", "spark"]}
        # `produces` is newer than Dagster 1.13.0, the lowest release supported.
        if "produces" in inspect.signature(ComponentTypeSpec.__new__).parameters:
            spec["produces"] = ["asset", "asset_check", "schedule", "sensor", "resource"]
        return ComponentTypeSpec(**spec)

    def build_defs(self, context: ComponentLoadContext) -> Definitions:
        """What `build_definitions` builds from `config_path`, keyed, grouped and tagged as the
        attributes say, run by `engine`.

        Raises:
            ConfigError: config.yml is missing or invalid.
        """
        if not self.config_path.is_file():
            raise ConfigError([ConfigProblem(
                str(self.config_path), None, "config file not found",
                hint="set config_path in defs.yaml, relative to its folder or as "
                     "'{{ context.project_root }}/config.yml'",
            )])
        translator = AttributesTranslator(
            key_prefix=self.key_prefix, group_name=self.group_name, tags=self.tags,
            rendering=self._rendering or context.resolution_context.at_path("attributes"),
        )
        # A component is where a code location is made: what defs.yaml leaves out comes from
        # the environment, as for the default code location.
        settings = Settings.from_env(os.environ)
        engine = self.engine or settings.engine
        if isinstance(engine, LocalPipelinesResource) and engine.home is None and os.environ.get("ETL_ASSETS_HOME"):
            engine = LocalPipelinesResource(**{**engine.model_dump(), "home": os.environ["ETL_ASSETS_HOME"]})
        return build_definitions(self.config_path, translator=translator, engine=engine,
                                 git=settings.git, alerts=settings.alerts, code_cache=settings.code_cache)


class AttributesTranslator(TableTranslator):
    """`TableTranslator` with a key prefix, a group name and tags, as `EtlAssetsComponent` takes them.

    Args:
        key_prefix: prefix of every table's and landing asset's key.
        group_name: template of each table's group, rendered with `table` in scope.
        tags: tags added to each table; values are templates like `group_name`.
        rendering: the context that renders the templates (Dagster's `env` and the rest).

    >>> AttributesTranslator(key_prefix="lake").get_landing_key("orders")
    AssetKey(['lake', 'raw_orders'])
    """

    def __init__(self, *, key_prefix: str | Sequence[str] | None = None, group_name: str | None = None,
                 tags: Mapping[str, str] | None = None, rendering: ResolutionContext | None = None):
        self.key_prefix = [key_prefix] if isinstance(key_prefix, str) else list(key_prefix or [])
        self.group_name = group_name
        self.tags = dict(tags or {})
        self.rendering = rendering or ResolutionContext.default()

    def get_asset_key(self, table: Table, config: ProjectConfig) -> AssetKey:
        """The table's key with the component's prefix."""
        return super().get_asset_key(table, config).with_prefix(self.key_prefix)

    def get_landing_key(self, source_path: str) -> AssetKey:
        """The landing source's key with the component's prefix."""
        return super().get_landing_key(source_path).with_prefix(self.key_prefix)

    def get_group_name(self, table: Table, config: ProjectConfig) -> str:
        """The group from the component's template, else the layer."""
        if self.group_name is None:
            return super().get_group_name(table, config)
        return self._render(("group_name",), self.group_name, table)

    def get_tags(self, table: Table, config: ProjectConfig) -> Mapping[str, str]:
        """The table's tags plus the component's."""
        return {**super().get_tags(table, config),
                **{key: self._render(("tags", key), value, table) for key, value in self.tags.items()}}

    def _render(self, path: Sequence[str], template: str, table: Table) -> str:
        # Text without template syntax is taken as written: Dagster's native rendering would
        # turn "1e3" into 1000.0.
        if "{{" not in template and "{%" not in template:
            return template
        context = self.rendering
        for part in path:
            context = context.at_path(part)
        value = context.with_scope(table=table).resolve_value(template)
        if value is None or isinstance(value, (Mapping, list, tuple)):
            position = context.source_position_tree.lookup(context.path) if context.source_position_tree else None
            raise ConfigError([ConfigProblem(
                position.filename if position else "defs.yaml", position.start.line if position else None,
                f"{'.'.join(path)} '{template}' renders to {value!r}, not text",
                table=table.name, hint="check the variables it uses are set, e.g. 'lakehouse_{{ table.layer }}'",
            )])
        return str(value)
