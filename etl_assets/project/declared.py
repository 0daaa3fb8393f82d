"""Expectations declared in code (`@dp.expect_or_drop`, `CONSTRAINT ... EXPECT` in SQL,
`expect_all*` of `create_streaming_table`, `etl_assets.ldp` rules) joined with config.yml's.

A table's Dagster checks are the union: a rule in config keeps its tolerance and description;
a rule only in code becomes a check with no tolerance. A rule both places declare must have
the same condition and action (the code is what runs; config cannot say otherwise).
"""

from __future__ import annotations

import dataclasses

from etl_assets.errors import ConfigProblem
from etl_assets.project.code import code_facts
from etl_assets.project.config import Expectation, ProjectConfig, Table


def declared_for(config: ProjectConfig, table: Table) -> tuple[Expectation, ...]:
    """The expectations the code of `table` declares for it (its name as config knows it, or
    qualified with its pipeline's catalog and schema)."""
    facts = code_facts(config.transformation_path(table)).as_tables(*config.namespace_of(config.pipeline_of(table).key))
    return facts.expectations.get(table.name, ())


def with_declared_expectations(config: ProjectConfig) -> ProjectConfig:
    """`config` whose tables carry the expectations their code declares as well as config's."""
    tables = []
    changed = False
    for table in config.tables:
        merged = _merged(table, declared_for(config, table))
        if merged is not table.expectations:
            table = table.model_copy(update={"expectations": merged})
            changed = True
        tables.append(table)
    if not changed:
        return config
    return dataclasses.replace(config, tables=tuple(tables), _by_name={})


def _merged(table: Table, in_code: tuple[Expectation, ...]) -> tuple[Expectation, ...]:
    configured = {e.name for e in table.expectations}
    extra = tuple(e for e in in_code if e.name not in configured)
    return table.expectations + extra if extra else table.expectations


def declaration_problems(config: ProjectConfig) -> list[ConfigProblem]:
    """Rules that config.yml and the code both declare with a different condition or action."""
    problems = []
    for table in config.tables:
        in_code = {e.name: e for e in declared_for(config, table)}
        for rule in table.expectations:
            code = in_code.get(rule.name)
            if code is None:
                continue
            if _normal(code.condition) != _normal(rule.condition) or code.action != rule.action:
                problems.append(ConfigProblem(
                    config.path.name, config.line_of("tables", table.name),
                    f"expectation '{rule.name}' is '{rule.condition}' ({rule.action}) in config but "
                    f"'{code.condition}' ({code.action}) in {config.relative_transformation_path(table)}",
                    table.name, "make them the same: the code is what runs, config adds the tolerance"))
    return problems


def _normal(condition: str) -> str:
    return " ".join(condition.replace('"', "'").split()).lower()
