"""Conventions shared by the runners, the transformation helpers and the sensors."""

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
