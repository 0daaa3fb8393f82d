"""config.yml: the typed model of tables, pipelines and schedules.

`etl_assets.project.load.load_config` reads and checks a file into a `ProjectConfig`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from etl_assets.project.yaml_lines import key_line, load_yaml_with_lines

LAYERS: tuple[str, ...] = ("bronze", "silver", "gold")
DEFAULT_PIPELINE_KEY = "default"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expectation(_Model):
    """A data quality rule on a table: a SQL boolean condition and what to do with rows failing it.

    Its check passes when no row fails, or, with a tolerance, when the failing rows stay within
    `max_failed_share` (0..1, of the rows checked) or `max_failed_records`.
    """

    name: str
    condition: str
    action: Literal["warn", "drop", "fail"] = "warn"
    description: str | None = None
    max_failed_share: float | None = Field(default=None, ge=0, le=1)
    max_failed_records: int | None = Field(default=None, ge=0)

    def within_tolerance(self, passed: int, failed: int) -> bool:
        """Whether `failed` failing rows out of `passed + failed` pass this rule's check.

        >>> Expectation(name="valid_id", condition="id IS NOT NULL", max_failed_share=0.05).within_tolerance(98, 2)
        True
        """
        if self.max_failed_records is not None:
            return failed <= self.max_failed_records
        if self.max_failed_share is not None:
            checked = passed + failed
            return checked == 0 or failed / checked <= self.max_failed_share
        return failed == 0


class Source(_Model):
    """Raw files a bronze table reads, relative to the landing folder or volume.

    `refresh_downstream`: when new files land, the landing sensor also refreshes everything
    downstream of the tables reading them, not only those tables.
    `example_data`: materializing the source's raw asset appends a file of the example's
    generated rows (the example project's `customers` and `orders` only); otherwise the raw
    files are an external asset that only their arrival updates.
    """

    type: Literal["files"] = "files"
    format: Literal["json", "csv", "parquet"] = "json"
    path: str
    refresh_downstream: bool = False
    example_data: bool = False


class OnCron(_Model):
    """Refresh on a cron once all upstream tables have been updated since the last tick."""

    on_cron: str
    timezone: str = "UTC"


Condition = Literal["eager", "on_missing"] | OnCron


class Freshness(_Model):
    """How stale a table may get: its last update older than `fail_after` (e.g. `26h`, `30m`,
    `2d`) fails, older than `warn_after` warns."""

    fail_after: str
    warn_after: str | None = None

    def windows(self) -> tuple[timedelta, timedelta | None]:
        """(fail window, warn window) as durations.

        >>> Freshness(fail_after="1d", warn_after="12h").windows()
        (datetime.timedelta(days=1), datetime.timedelta(seconds=43200))
        """
        return duration(self.fail_after), None if self.warn_after is None else duration(self.warn_after)


class AutomationRule(_Model):
    """An automation condition for every table a selection matches (`tag:silver`, `group:gold`)."""

    selection: str
    condition: Condition


class FreshnessRule(Freshness):
    """A freshness limit for every table a selection matches."""

    selection: str


class Table(_Model):
    """One table of config.yml."""

    name: str
    layer: str
    pipeline: str | None = None
    tags: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    source: Source | None = None
    description: str | None = None
    owners: tuple[str, ...] = ()
    expectations: tuple[Expectation, ...] = ()
    automation: Condition | None = None
    freshness: Freshness | None = None
    file: str | None = None


def _settings(value: object) -> object:
    """Pipeline settings are strings, as Databricks takes them: YAML scalars become their text."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif isinstance(item, (int, float)):
            item = str(item)
        out[key] = item
    return out


class Pipeline(_Model):
    """A Lakeflow Declarative Pipeline: `key` in config, `name` as deployed, `id` if known."""

    key: str
    name: str
    id: str | None = None
    description: str | None = None
    continuous: bool = False
    libraries: tuple[str, ...] = ()
    configuration: dict[str, str] = Field(default_factory=dict)
    spark_conf: dict[str, str] = Field(default_factory=dict)
    catalog: str | None = None
    schema_: str | None = Field(default=None, alias="schema")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    _strings = field_validator("configuration", "spark_conf", mode="before")(_settings)


class Schedule(_Model):
    """A cron schedule materializing a Dagster asset selection such as `tag:daily`."""

    name: str
    cron: str
    selection: str
    timezone: str = "UTC"
    full_refresh: bool = False
    description: str | None = None


@dataclass(frozen=True)
class ProjectConfig:
    """A validated config: tables in file order, pipelines by key, schedules."""

    path: Path
    tables: tuple[Table, ...]
    pipelines: dict[str, Pipeline]
    schedules: tuple[Schedule, ...] = ()
    automation: tuple[AutomationRule, ...] = ()
    freshness: tuple[FreshnessRule, ...] = ()
    catalog: str | None = None
    schema: str | None = None
    _by_name: dict[str, Table] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({t.name: t for t in self.tables})

    @property
    def root(self) -> Path:
        """The project folder: the one holding config.yml and transformations/."""
        return self.path.parent

    def line_of(self, section: Literal["tables", "pipelines", "schedules", "automation", "freshness"],
                name: str) -> int | None:
        """The line where a table, pipeline or schedule entry (or an automation or freshness rule,
        named by its selection) starts in the config file.

        Valid configs are parsed without line tracking (it is ten times slower); lines are
        looked up here, on demand, when a later check has something to report.
        """
        return self._lines.get((section, name))

    @cached_property
    def _lines(self) -> dict[tuple[str, str], int]:
        doc = load_yaml_with_lines(self.path.read_text(encoding="utf-8"))
        lines: dict[tuple[str, str], int] = {}
        for section, field_ in (("tables", "name"), ("schedules", "name"), ("automation", "selection"),
                                ("freshness", "selection")):
            entries = doc.get(section) or []
            for entry, line in zip(entries, getattr(entries, "item_lines", [])):
                if isinstance(entry, dict) and isinstance(entry.get(field_), str):
                    lines.setdefault((section, entry[field_]), line)
        pipelines = doc.get("pipelines") or {}
        for key in pipelines:
            lines[("pipelines", str(key))] = key_line(pipelines, str(key)) or 0
        return lines

    def selections(self) -> list[tuple[Literal["schedules", "automation", "freshness"], str, str]]:
        """(section, entry name, selection) of every selection string in config: schedules' and
        the automation and freshness rules' (named by their selection)."""
        return [*(("schedules", s.name, s.selection) for s in self.schedules),
                *(("automation", r.selection, r.selection) for r in self.automation),
                *(("freshness", r.selection, r.selection) for r in self.freshness)]

    def table(self, name: str) -> Table:
        """The table called `name` (KeyError if there is none)."""
        return self._by_name[name]

    @property
    def table_names(self) -> tuple[str, ...]:
        """Every table name, in config order."""
        return tuple(self._by_name)

    def pipeline_of(self, table: Table | str) -> Pipeline:
        """The pipeline a table belongs to."""
        t = self.table(table) if isinstance(table, str) else table
        assert t.pipeline is not None  # set for every table by the loader
        return self.pipelines[t.pipeline]

    def tables_of(self, pipeline_key: str) -> tuple[Table, ...]:
        """The tables of one pipeline, in config order."""
        return self._tables_by_pipeline.get(pipeline_key, ())

    @cached_property
    def _tables_by_pipeline(self) -> dict[str, tuple[Table, ...]]:
        grouped: dict[str, list[Table]] = {}
        for t in self.tables:
            grouped.setdefault(t.pipeline or "", []).append(t)
        return {k: tuple(v) for k, v in grouped.items()}

    def transformation_path(self, table: Table | str) -> Path:
        """The file defining the table: its `file:`, else transformations/<layer>/<name>.py, else
        (when its pipeline lists `libraries`) the library file that defines it."""
        t = self.table(table) if isinstance(table, str) else table
        return self.root / self.relative_transformation_path(t)

    def relative_transformation_path(self, table: Table | str) -> str:
        """`transformation_path`, relative to the project folder."""
        t = self.table(table) if isinstance(table, str) else table
        relative = transformation_relpath(t)
        if t.file is None and t.pipeline is not None and self.pipelines[t.pipeline].libraries:
            if not (self.root / relative).is_file():
                found = self._defined_in(t.pipeline).get(t.name)
                if found is not None:
                    return found
        return relative

    def library_files(self, pipeline_key: str) -> tuple[Path, ...]:
        """The files a pipeline's `libraries` globs match (sorted, no caches, no folders)."""
        return self._library_files.get(pipeline_key) or self._glob(pipeline_key)

    def pipeline_files(self, pipeline_key: str) -> tuple[Path, ...]:
        """Every file of a pipeline: its library files, then its tables' files not among them."""
        files = list(self.library_files(pipeline_key))
        seen = {f.resolve() for f in files}
        packages = [f.parent.resolve() for f in files if f.name == "__init__.py"]
        for t in self.tables_of(pipeline_key):
            path = self.transformation_path(t)
            # A module of a package library is imported by the package, not loaded on its own.
            if path.resolve() not in seen and not any(p in path.resolve().parents for p in packages):
                seen.add(path.resolve())
                files.append(path)
        return tuple(files)

    def catalog_of(self, pipeline_key: str) -> str | None:
        """The Unity Catalog catalog of a pipeline's tables: its own, else the project's."""
        return self.pipelines[pipeline_key].catalog or self.catalog

    def schema_of(self, pipeline_key: str) -> str | None:
        """The schema of a pipeline's tables: its own, else the project's."""
        return self.pipelines[pipeline_key].schema_ or self.schema

    def namespace_of(self, pipeline_key: str) -> tuple[str | None, str | None]:
        """(catalog, schema) of a pipeline's tables: what code may qualify their names with."""
        return self.catalog_of(pipeline_key), self.schema_of(pipeline_key)

    @cached_property
    def _library_files(self) -> dict[str, tuple[Path, ...]]:
        return {}

    def _glob(self, pipeline_key: str) -> tuple[Path, ...]:
        found = library_paths(self.root, self.pipelines[pipeline_key].libraries)
        self._library_files[pipeline_key] = found
        return found

    def _defined_in(self, pipeline_key: str) -> dict[str, str]:
        """Config table name -> relative path of the library file defining it (first one wins)."""
        cache = self._definitions
        if pipeline_key not in cache:
            files = [m for f in self.library_files(pipeline_key) for m in (f, *package_modules(f))]
            defined = tables_in_files(files, *self.namespace_of(pipeline_key))
            cache[pipeline_key] = {name: path.relative_to(self.root).as_posix() for name, path in defined.items()}
        return cache[pipeline_key]

    @cached_property
    def _definitions(self) -> dict[str, dict[str, str]]:
        return {}


def tables_in_files(files: Iterable[Path], catalog: str | None, schema: str | None) -> dict[str, Path]:
    """Config table name -> the first of `files` defining it, in a pipeline with this catalog and
    schema. Files that cannot be read or parsed define nothing here (the bundle check and the
    engine report the file itself)."""
    from etl_assets.translation.sources import tables_defined

    found: dict[str, Path] = {}
    for path in files:
        try:
            defined = tables_defined(path, catalog, schema)
        except (SyntaxError, ValueError, OSError):
            continue
        for name in defined:
            found.setdefault(name, path)
    return found


def package_modules(library: Path) -> list[Path]:
    """The modules of a package library (a `libraries` entry naming a package's `__init__.py`,
    which imports them): the `.py` files below its folder, sorted; none for any other file."""
    if library.name != "__init__.py":
        return []
    return sorted(p for p in library.parent.rglob("*.py") if p != library and "__pycache__" not in p.parts)


def library_paths(root: Path, patterns: Iterable[str]) -> tuple[Path, ...]:
    """The files a pipeline's `libraries` entries name under `root`, each once, in their order."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        for path in sorted(library_matches(root, pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                found.setdefault(path, None)
    return tuple(found)


def library_matches(root: Path, pattern: str) -> list[Path]:
    """What a `libraries` entry names under `root`: a file, or a glob as a bundle's `glob:
    include:` reads it (`dir/**` is every file below `dir`). Folders are left out."""
    if not any(c in pattern for c in "*?["):
        return [root / pattern]
    if pattern.endswith("**"):
        pattern += "/*"
    # A glob takes the pipeline sources it finds (other files, such as a README, are not code).
    return sorted(p for p in root.glob(pattern)
                  if p.is_file() and p.suffix in (".py", ".sql") and "__pycache__" not in p.parts)


def transformation_relpath(table: Table) -> str:
    """The table's `file:`, else transformations/<layer>/<name>.py: where its code lives."""
    return table.file or f"transformations/{table.layer}/{table.name}.py"


_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    """`30m`, `26h` or `2d` as a duration (ValueError otherwise).

    >>> duration("26h")
    datetime.timedelta(days=1, seconds=7200)
    """
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"'{text}' is not a duration such as 30m, 26h or 2d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class Asset:
    """What a selection of config.yml is matched against: a table's asset as Dagster shows it."""

    key: str
    group: str
    tags: Iterable[str] = ()
    owners: Iterable[str] = ()
    kinds: Iterable[str] = ()


_ATTRIBUTES = ("tag", "group", "key", "owner", "kind")
_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z_]+:\"[^\"]*\"|[A-Za-z_]+:[^\s()]+|[^\s()]+)")


def parse_selection(text: str) -> Callable[[Asset], bool]:
    """A predicate for Dagster's selection syntax restricted to what names tables by their own
    attributes: `tag:`, `group:`, `key:` (with `*` wildcards), `owner:`, `kind:`, combined with
    `and`, `or`, `not` and parentheses. ValueError names what is not understood.

    >>> parse_selection("tag:daily and not group:gold")(Asset("orders", "silver", tags=("daily",)))
    True
    """
    tokens: list[str] = [t for t in _TOKEN.findall(text) if t]
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def either() -> Callable[[Asset], bool]:
        parts = [both()]
        while (peek() or "").lower() == "or":
            take()
            parts.append(both())
        return parts[0] if len(parts) == 1 else (lambda a: any(p(a) for p in parts))

    def both() -> Callable[[Asset], bool]:
        parts = [negated()]
        while (peek() or "").lower() == "and":
            take()
            parts.append(negated())
        return parts[0] if len(parts) == 1 else (lambda a: all(p(a) for p in parts))

    def negated() -> Callable[[Asset], bool]:
        if (peek() or "").lower() == "not":
            take()
            inner = negated()
            return lambda a: not inner(a)
        return atom()

    def atom() -> Callable[[Asset], bool]:
        token = peek()
        if token is None:
            raise ValueError("ends where a term such as tag:daily is expected")
        take()
        if token == "(":
            inner = either()
            if peek() != ")":
                raise ValueError("has an unclosed parenthesis")
            take()
            return inner
        attribute, colon, value = token.partition(":")
        if "+" in token or (attribute != "key" and "*" in value):
            raise ValueError(f"'{token}': upstream and downstream operators (+, *) are not taken here; select "
                             "the tables themselves, e.g. by a tag they share")
        if not colon or attribute not in _ATTRIBUTES:
            raise ValueError(f"'{token}' is not one of {', '.join(a + ':' for a in _ATTRIBUTES)} (upstream and "
                             "downstream operators such as + are not taken here)")
        return _term(attribute, value.strip('"'))

    predicate = either()
    if peek() is not None:
        raise ValueError(f"'{peek()}' is not expected there")
    return predicate


def _term(attribute: str, value: str) -> Callable[[Asset], bool]:
    if attribute == "tag":
        return lambda a: value in a.tags
    if attribute == "group":
        return lambda a: a.group == value
    if attribute == "owner":
        return lambda a: value in a.owners
    if attribute == "kind":
        return lambda a: value in a.kinds
    pattern = re.compile("^" + ".*".join(map(re.escape, value.split("*"))) + "$")
    return lambda a: bool(pattern.match(a.key))
