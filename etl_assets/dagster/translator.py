"""How a config table becomes a Dagster asset. Subclass `TableTranslator` to change it."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from dagster import (
    AssetCheckSpec,
    AssetKey,
    AssetSpec,
    AutomationCondition,
    CodeReferencesMetadataValue,
    FreshnessPolicy,
    LocalFileCodeReference,
    PathMetadataValue,
)

from etl_assets.engines.base import EngineTraits
from etl_assets.project.code import CodeFacts, code_facts
from etl_assets.project.config import (
    Asset,
    Condition,
    Expectation,
    Freshness,
    ProjectConfig,
    Table,
    parse_selection,
)

Matcher = Callable[[Asset], bool]


class TableTranslator:
    """The one place that maps a table to its Dagster asset spec and checks.

    `get_asset_spec` makes a table's asset; the asset factory, the schedules' and sensors'
    keys, the pipeline observer and the landing assets all take keys and dependencies from it.
    Override it, or any `get_*` method it calls; each takes the table and the project's config.

    >>> class Prefixed(TableTranslator):
    ...     def get_asset_key(self, table, config):
    ...         return AssetKey(["lakehouse", table.name])
    >>> defs = build_definitions(translator=Prefixed())     # doctest: +SKIP

    `engine` is the engine that runs the tables (its kind and table names), set by
    `build_definitions` through `for_engine`; None when assets are built without one.
    """

    engine: type[EngineTraits] | None = None

    def for_engine(self, engine: type[EngineTraits]) -> TableTranslator:
        """A copy of this translator that knows which engine runs the tables.

        >>> TableTranslator().for_engine(LocalEngine).get_kinds(table)     # doctest: +SKIP
        {'spark', 'silver'}
        """
        translator = copy.copy(self)
        translator.engine = engine
        for cached in ("_code_known", "_specs", "_parsed_rules"):
            translator.__dict__.pop(cached, None)  # the copy builds afresh
        return translator

    def get_asset_key(self, table: Table, config: ProjectConfig) -> AssetKey:
        """The table's asset key: its name, e.g. `AssetKey(["orders_silver"])`."""
        return AssetKey(table.name)

    def get_group_name(self, table: Table, config: ProjectConfig) -> str:
        """The asset group: the table's layer (`bronze`, `silver`, `gold`)."""
        return table.layer

    def get_tags(self, table: Table, config: ProjectConfig) -> Mapping[str, str]:
        """The table's config `tags`, each a Dagster tag with an empty value (`{"daily": ""}`)."""
        # `tag:daily` in a Dagster selection matches only an empty value.
        return {tag: "" for tag in table.tags}

    def get_description(self, table: Table, config: ProjectConfig) -> str | None:
        """The table's config `description`, if any."""
        return table.description

    def get_owners(self, table: Table, config: ProjectConfig) -> Sequence[str]:
        """The table's config `owners` (email addresses or `team:<name>`)."""
        return table.owners

    def get_kinds(self, table: Table, config: ProjectConfig) -> set[str]:
        """The kinds the UI shows as badges: the engine's (`spark` locally, `databricks`) and the layer."""
        return {self.engine.kind, table.layer} if self.engine is not None else {table.layer}

    def get_table_name(self, table: Table, config: ProjectConfig) -> str:
        """The table's name on its engine (`spark_catalog.default.orders_silver` locally)."""
        return self.engine.table_name(config, table.name) if self.engine is not None else table.name

    def get_metadata(self, table: Table, config: ProjectConfig) -> Mapping[str, Any]:
        """Definition metadata: layer, pipeline key and deployed name, transformation file, table
        name on the engine, and a code reference to the line defining the dataset."""
        pipeline = config.pipeline_of(table)
        relative = config.relative_transformation_path(table)
        path, facts = self._code_of(config, relative)
        return {
            "layer": table.layer,
            "pipeline": pipeline.key,
            "pipeline_name": pipeline.name,
            "transformation": PathMetadataValue(relative),
            # Dagster's standard key for the table an asset is (shown in the UI, used by lineage).
            "dagster/table_name": self.get_table_name(table, config),
            "dagster/code_references": code_reference(path, _line_of(facts, table, config, pipeline.key), relative),
        }

    def get_code_version(self, table: Table, config: ProjectConfig) -> str:
        """A digest of the table's transformation file and the `etl_assets.ldp` helpers it imports:
        when it changes, the UI marks the table's materialization as stale ("code version")."""
        return self._code_of(config, config.relative_transformation_path(table))[1].version

    def _code_of(self, config: ProjectConfig, relative: str) -> tuple[str, CodeFacts]:
        # One stat per file and build (metadata and code version both ask); joined as strings,
        # as pathlib costs more than the stat at thousands of tables.
        known: dict[str, tuple[str, CodeFacts]] = self.__dict__.setdefault("_code_known", {})
        if relative not in known:
            path = os.path.join(os.path.dirname(config.path), relative)
            known[relative] = (path, code_facts(path))
        return known[relative]

    def get_check_spec(self, table: Table, expectation: Expectation, asset_key: AssetKey) -> AssetCheckSpec:
        """The asset check of one expectation, named after it; blocking when its action is `fail`."""
        # A `fail` expectation stops the update, so downstream must not run on its output.
        return AssetCheckSpec(
            name=expectation.name,
            asset=asset_key,
            description=expectation.description or f"{expectation.action}: {expectation.condition}",
            blocking=expectation.action == "fail",
            metadata={"condition": expectation.condition, "action": expectation.action},
        )

    def get_automation_condition(self, table: Table, config: ProjectConfig) -> AutomationCondition | None:
        """Dagster's declarative automation: the table's own `automation:`, else the condition of
        the first `automation:` rule of config whose selection matches it (none by default)."""
        chosen = table.automation
        if chosen is None:
            chosen = next((c for match, c in self._rules(config)[0] if match(self._asset(table, config))), None)
        return automation_condition(chosen)

    def get_freshness_policy(self, table: Table, config: ProjectConfig) -> FreshnessPolicy | None:
        """Dagster's freshness policy: the table's own `freshness:`, else the first `freshness:`
        rule of config whose selection matches it (none by default)."""
        chosen = self.get_freshness(table, config)
        if chosen is None:
            return None
        fail, warn = chosen.windows()
        return FreshnessPolicy.time_window(fail_window=fail, warn_window=warn)

    def get_freshness(self, table: Table, config: ProjectConfig) -> Freshness | None:
        """The table's freshness limit from config: its own, else the first matching rule's."""
        if table.freshness is not None:
            return table.freshness
        return next((f for match, f in self._rules(config)[1] if match(self._asset(table, config))), None)

    def _asset(self, table: Table, config: ProjectConfig) -> Asset:
        """The table as a config selection sees it: its key, group, tags, owners and kinds."""
        return Asset(key=self.get_asset_key(table, config).to_user_string(), group=self.get_group_name(table, config),
                     tags=tuple(self.get_tags(table, config)), owners=tuple(self.get_owners(table, config)),
                     kinds=tuple(self.get_kinds(table, config)))

    def _rules(self, config: ProjectConfig) -> tuple[list[tuple[Matcher, Condition]], list[tuple[Matcher, Freshness]]]:
        # Parsed once per build: validation has already accepted every selection.
        cached = self.__dict__.get("_parsed_rules")
        if cached is None or cached[0] is not config:
            cached = (config, [(parse_selection(r.selection), r.condition) for r in config.automation],
                      [(parse_selection(r.selection), r) for r in config.freshness])
            self.__dict__["_parsed_rules"] = cached
        return cast(tuple[list[tuple[Matcher, Condition]], list[tuple[Matcher, Freshness]]], cached[1:])

    def get_landing_key(self, source_path: str) -> AssetKey:
        """The asset of the raw files under a landing source path: `raw_<path>`.

        >>> TableTranslator().get_landing_key("customers")
        AssetKey(['raw_customers'])
        """
        return AssetKey(f"raw_{re.sub(r'[^A-Za-z0-9_]', '_', source_path.strip('/'))}")

    def get_source_key(self, table: Table, config: ProjectConfig) -> AssetKey | None:
        """The asset of the raw files a table reads (`source:` in config), if any."""
        return self.get_landing_key(table.source.path) if table.source is not None else None

    def get_asset_spec(self, table: Table, config: ProjectConfig) -> AssetSpec:
        """The table's asset: key, deps (its raw files' asset and the assets of the tables it
        reads, each from this method), and everything the UI shows.

        >>> TableTranslator().get_asset_spec(config.table("orders_silver"), config).deps   # doctest: +SKIP
        [AssetDep(AssetKey(['orders_bronze'])), AssetDep(AssetKey(['customers']))]
        """
        source = self.get_source_key(table, config)
        return AssetSpec(
            key=self.get_asset_key(table, config),
            deps=[*([source] if source else []), *(self.spec_of(config.table(dep), config).key for dep in table.depends_on)],
            description=self.get_description(table, config),
            group_name=self.get_group_name(table, config),
            tags=self.get_tags(table, config),
            owners=self.get_owners(table, config),
            kinds=self.get_kinds(table, config),
            metadata=self.get_metadata(table, config),
            automation_condition=self.get_automation_condition(table, config),
            freshness_policy=self.get_freshness_policy(table, config),
            code_version=self.get_code_version(table, config),
            skippable=True,
        )

    def spec_of(self, table: Table, config: ProjectConfig) -> AssetSpec:
        """`get_asset_spec` of a table, made once per translator and config."""
        specs: dict[str, AssetSpec] = self.__dict__.setdefault("_specs", {})
        if table.name not in specs:
            specs[table.name] = self.get_asset_spec(table, config)
        return specs[table.name]

    def asset_keys(self, config: ProjectConfig) -> dict[str, AssetKey]:
        """Every table name of config -> its asset key, as `get_asset_spec` gives it."""
        return {t.name: self.spec_of(t, config).key for t in config.tables}


def code_reference(path: str, line: int | None, label: str) -> CodeReferencesMetadataValue:
    """The UI's link to the line of a file (`dagster/code_references` metadata).

    Built through the models' `model_construct`: the fields are already the right types, and
    Dagster's validating constructor (with a beta warning each time) costs more than the rest
    of a table's spec at thousands of tables.

    >>> code_reference("/lake/transformations/gold/orders_gold.py", 7, "orders_gold.py").code_references[0].source
    '/lake/transformations/gold/orders_gold.py:7'
    """
    return CodeReferencesMetadataValue.model_construct(code_references=[
        LocalFileCodeReference.model_construct(file_path=path, line_number=line, label=label)])


def _line_of(facts: CodeFacts, table: Table, config: ProjectConfig, pipeline: str) -> int | None:
    """The line defining `table` in its file (its name as config knows it, or qualified with its
    pipeline's catalog and schema)."""
    return facts.as_tables(*config.namespace_of(pipeline)).datasets.get(table.name)


def automation_condition(condition: Condition | None) -> AutomationCondition | None:
    """The Dagster condition of a config `automation:` value.

    >>> automation_condition("eager") == AutomationCondition.eager()
    True
    """
    if condition == "eager":
        return AutomationCondition.eager()
    if condition == "on_missing":
        return AutomationCondition.on_missing()
    if condition is not None and not isinstance(condition, str):
        return AutomationCondition.on_cron(condition.on_cron, condition.timezone)
    return None
