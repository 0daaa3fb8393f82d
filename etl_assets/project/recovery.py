"""Recovery of a pipeline step, the same on both engines: rebuild some of its selected tables
(`full_refresh_tables`), or make some of its streaming tables read their whole source again
into the data they keep (`reset_checkpoint_tables`).

The names are checked before anything starts: each must be a table of the step's pipeline and
among the tables the step refreshes, and a checkpoint can only be reset for a streaming table
(one its code defines as a streaming table: materialized views and views keep no checkpoint).
"""

from __future__ import annotations

from collections.abc import Sequence

from etl_assets.errors import ConfigError, ConfigProblem
from etl_assets.project.config import ProjectConfig

FULL_REFRESH_TABLES = "full_refresh_tables"
RESET_CHECKPOINT_TABLES = "reset_checkpoint_tables"


def table_kind(config: ProjectConfig, table: str) -> str | None:
    """What the table's code defines it as (`streaming_table`, `materialized_view`, ...), or
    None when its file does not define it or cannot be read."""
    from etl_assets.translation.sources import tables_defined

    pipeline = config.pipeline_of(table).key
    try:
        facts = tables_defined(config.transformation_path(table), *config.namespace_of(pipeline)).get(table)
    except (OSError, SyntaxError, ValueError):
        return None
    return facts.kind if facts is not None else None


def recovery_problems(config: ProjectConfig, pipeline_key: str, selected: Sequence[str],
                      full_refresh_tables: Sequence[str] = (),
                      reset_checkpoint_tables: Sequence[str] = ()) -> list[ConfigProblem]:
    """What is wrong with a step's recovery settings, each problem naming the table and what to do."""
    from etl_assets.project.validation import did_you_mean

    pipeline = config.pipelines[pipeline_key]
    own = [t.name for t in config.tables_of(pipeline_key)]
    problems: list[ConfigProblem] = []
    where = f"run config of pipeline step '{pipeline_key}'"
    for option, names in ((FULL_REFRESH_TABLES, full_refresh_tables), (RESET_CHECKPOINT_TABLES, reset_checkpoint_tables)):
        for name in names:
            if name not in own:
                other = config.pipeline_of(name).key if name in config.table_names else None
                hint = (f"it belongs to pipeline '{other}': give it in that step's run config" if other
                        else did_you_mean(name, own) or f"the tables of '{pipeline_key}': {', '.join(own)}")
                problems.append(ConfigProblem(where, None, f"{option} names '{name}', which is no table of pipeline "
                                                           f"'{pipeline.name}'", hint=hint))
            elif name not in selected:
                problems.append(ConfigProblem(where, None, f"{option} names '{name}', which this run does not "
                                                           "refresh", hint=f"select {name} too"))
            elif option == RESET_CHECKPOINT_TABLES:
                kind = table_kind(config, name)
                if kind != "streaming_table":
                    said = f"its code defines a {kind.replace('_', ' ')}" if kind else "its code defines no such dataset"
                    problems.append(ConfigProblem(
                        where, None, f"{option} names '{name}', which is not a streaming table ({said}, "
                                     f"{config.relative_transformation_path(name)}): only a streaming table keeps a "
                                     "checkpoint", hint=f"rebuild it with {FULL_REFRESH_TABLES}: [{name}]"))
    return problems


def check_recovery(config: ProjectConfig, pipeline_key: str, selected: Sequence[str],
                   full_refresh_tables: Sequence[str] = (), reset_checkpoint_tables: Sequence[str] = ()) -> None:
    """Raise `ConfigError` naming every problem of the step's recovery settings; nothing has started."""
    problems = recovery_problems(config, pipeline_key, selected, full_refresh_tables, reset_checkpoint_tables)
    if problems:
        raise ConfigError(problems)
