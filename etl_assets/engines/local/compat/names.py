"""Two- and three-part Databricks names on the local Hive catalog (see the package docstring)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl_assets.conventions import name_parts
from etl_assets.engines.local.home import HOME_ENV_VAR

LOCAL_CATALOGS = ("spark_catalog", "hive_metastore")
SAMPLE_FORMATS = ("parquet", "csv", "json")
# The (catalog, schema) of every pipeline of the project, as JSON: their tables are all in the
# local `default` database (config names each table once across the project).
NAMESPACES_CONF = "etl_assets.namespaces"


@dataclass
class Names:
    """Maps the names pipeline code writes onto the local catalog.

    Args:
        catalog: the pipeline's catalog (Unity Catalog), None when it has none.
        schema: the pipeline's schema, whose tables are the local `default` database.
        home: the local home, whose `samples/<catalog>/<schema>/<table>/` folders hold sample data.
        namespaces: the (catalog, schema) of the project's other pipelines: their tables are in
            the local `default` database too, so `<catalog>.<their schema>.t` reads their `t`.
    """

    catalog: str | None = None
    schema: str | None = None
    home: Path | None = None
    databases: set[str] = field(default_factory=set)
    namespaces: frozenset[tuple[str | None, str | None]] = frozenset()

    @classmethod
    def from_configuration(cls, configuration: dict[str, str], catalog: str | None, schema: str | None) -> Names:
        """The mapping of a run: the pipeline's catalog and schema from the spec (or its
        `etl_assets.catalog` / `etl_assets.schema` configuration), the home from the environment."""
        home = os.environ.get(HOME_ENV_VAR)
        return cls(catalog=configuration.get("etl_assets.catalog", catalog),
                   schema=configuration.get("etl_assets.schema", schema),
                   home=Path(home) if home else None,
                   namespaces=parse_namespaces(configuration.get(NAMESPACES_CONF)))

    def parts(self, name: str) -> list[str]:
        """The parts of a name, back-quotes removed."""
        return name_parts(name)

    def sample(self, name: str) -> Path | None:
        """The sample folder `<home>/samples/<catalog>/<schema>/<table>/` a three-part name names, if any."""
        parts = self.parts(name)
        if self.home is None or len(parts) != 3:
            return None
        folder = self.home.joinpath("samples", *parts)
        return folder if folder.is_dir() else None

    def local(self, name: str) -> str:
        """The local name of a dataset or table name; unchanged for one-part names.

        >>> Names(catalog="main", schema="sales").local("main.sales.orders")
        'orders'
        >>> Names(catalog="main", schema="sales").local("main.finance.rates")
        'spark_catalog.main__finance.rates'
        >>> Names(catalog="main", schema="sales").local("finance.rates")
        'spark_catalog.finance.rates'
        >>> Names(catalog="main", schema="sales", namespaces=frozenset({("main", "finance")})).local("main.finance.rates")
        'rates'
        """
        parts = self.parts(name)
        if len(parts) == 1:
            return name
        if len(parts) == 2:
            schema, table = parts
            if schema == self.schema or schema == "default" or (self.catalog, schema) in self.namespaces:
                return table
            return f"spark_catalog.{schema}.{table}"
        if len(parts) == 3:
            catalog, schema, table = parts
            if catalog in LOCAL_CATALOGS:
                return table if schema == "default" else f"spark_catalog.{schema}.{table}"
            if (catalog == self.catalog and schema == self.schema) or (catalog, schema) in self.namespaces:
                return table
            if catalog == self.catalog:
                return f"spark_catalog.{schema}.{table}"
            return f"spark_catalog.{catalog}__{schema}.{table}"
        raise ValueError(f"'{name}' has {len(parts)} parts: a table name has at most three (catalog.schema.table)")

    def database(self, local_name: str) -> str | None:
        """The database a local name lives in, when it is not the default one."""
        parts = self.parts(local_name)
        return parts[1] if len(parts) == 3 and parts[1] != "default" else None

    def ensure_database(self, session: Any, local_name: str) -> None:
        """Create the database of `local_name` once (`session()` gives a session outside any
        pipeline context)."""
        database = self.database(local_name)
        if database and database not in self.databases:
            session().sql(f"CREATE DATABASE IF NOT EXISTS `{database}`").collect()
            self.databases.add(database)

    def sample_format(self, folder: Path) -> str:
        """The file format of a sample folder, from its files' extensions."""
        found = {p.suffix.lstrip(".").lower() for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))}
        for fmt in SAMPLE_FORMATS:
            if fmt in found:
                return fmt
        raise ValueError(f"sample folder {folder} has no .parquet, .csv or .json files")


def namespaces_value(namespaces: set[tuple[str | None, str | None]]) -> str:
    """The `etl_assets.namespaces` configuration value of a project's (catalog, schema) pairs."""
    return json.dumps(sorted([c, s] for c, s in namespaces if s), default=str)


def parse_namespaces(value: str | None) -> frozenset[tuple[str | None, str | None]]:
    """The (catalog, schema) pairs of an `etl_assets.namespaces` value (none when absent)."""
    return frozenset((c, s) for c, s in json.loads(value)) if value else frozenset()
