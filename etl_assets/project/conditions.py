"""Expectation conditions checked as SQL before anything runs.

Spark's own parser lives in the JVM, so starting it would cost a Spark start-up per
`etl-assets validate`. sqlglot's Spark dialect parses the same expressions in plain Python; it
is used by `validate` only, so a construct it does not know can never stop a run.
"""

from __future__ import annotations

from etl_assets.errors import ConfigProblem
from etl_assets.project.config import ProjectConfig


def check_conditions(config: ProjectConfig) -> list[ConfigProblem]:
    """A problem for each expectation whose condition does not parse as a SQL expression.

    >>> check_conditions(load_config())          # doctest: +SKIP
    []
    """
    import sqlglot
    from sqlglot.errors import ParseError

    problems = []
    for table in config.tables:
        for expectation in table.expectations:
            try:
                sqlglot.parse_one(expectation.condition, read="spark")
            except ParseError as exc:
                detail = str(exc).splitlines()[0]
                problems.append(ConfigProblem(
                    config.path.name, config.line_of("tables", table.name),
                    f"expectation '{expectation.name}': condition {expectation.condition!r} is not a SQL "
                    f"expression ({detail})", table.name,
                    "write a boolean Spark SQL expression, e.g. `id IS NOT NULL`"))
    return problems
