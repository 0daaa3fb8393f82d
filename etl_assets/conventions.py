"""Conventions shared by the runners, the transformation helpers and the sensors."""

from typing import TypeVar

T = TypeVar("T")

ENGINE_CONF = "etl_assets.engine"
LANDING_CONF = "etl_assets.landing_path"
# The catalog and schema config.yml names: locally they are the home's `default` database.
CATALOG_CONF = "etl_assets.catalog"
SCHEMA_CONF = "etl_assets.schema"
QUALITY_PREFIX = "etl_quality__"


def quality_dataset_name(table: str) -> str:
    """The local companion dataset holding a table's per-row expectation results."""
    return f"{QUALITY_PREFIX}{table}"


def is_data_file(name: str) -> bool:
    """Spark's rule: names starting with `.` or `_` are hidden (temporary, metadata, not landed yet)."""
    return not name.startswith((".", "_"))


def name_parts(name: str) -> list[str]:
    """The parts of a possibly qualified, possibly back-quoted name, quotes removed.

    >>> name_parts("`main`.`sales`.`orders_silver`")
    ['main', 'sales', 'orders_silver']
    """
    parts, current, quoted, i = [], "", False, 0
    while i < len(name):
        char = name[i]
        if char == "`":
            if quoted and name[i + 1:i + 2] == "`":  # a doubled back-quote is a literal one
                current += "`"
                i += 2
                continue
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
        i += 1
    parts.append(current)
    return parts


def config_table_name(name: str, catalog: str | None, schema: str | None) -> str:
    """The config.yml table a dataset name written in pipeline code stands for.

    Code may qualify a name with the pipeline's own schema (`sales.orders`), catalog and schema
    (`main.sales.orders`) or the old `LIVE.` prefix: each is the table `orders` of config. A name
    in another schema or catalog stays as written (config names no such table).

    >>> config_table_name("main.sales.orders", "main", "sales")
    'orders'
    >>> config_table_name("finance.rates", "main", "sales")
    'finance.rates'
    """
    parts = name_parts(name)
    if len(parts) == 2 and (parts[0].lower() == "live" or parts[0] == schema):
        return parts[1]
    if len(parts) == 3 and parts[0] == catalog and parts[1] == schema and catalog is not None:
        return parts[2]
    return name


def by_config_name(defined: dict[str, T], catalog: str | None, schema: str | None) -> dict[str, T]:
    """`defined` (dataset name as written in code -> anything) keyed by config table names
    (`config_table_name`); the first definition of a name wins, as in a pipeline."""
    found: dict[str, T] = {}
    for name, value in defined.items():
        found.setdefault(config_table_name(name, catalog, schema), value)
    return found
