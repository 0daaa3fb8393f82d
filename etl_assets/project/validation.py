"""Every rule of config.yml, checked at once: each problem with file:line, table and hint."""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ValidationError

from etl_assets.conventions import config_table_name
from etl_assets.errors import ConfigError, ConfigProblem
from etl_assets.project.code import code_facts
from etl_assets.project.config import (
    DEFAULT_PIPELINE_KEY,
    LAYERS,
    AutomationRule,
    Condition,
    Freshness,
    FreshnessRule,
    OnCron,
    Pipeline,
    ProjectConfig,
    Schedule,
    Table,
    duration,
    library_matches,
    library_paths,
    package_modules,
    parse_selection,
    tables_in_files,
    transformation_relpath,
)
from etl_assets.project.graph import find_cycles
from etl_assets.project.yaml_lines import LineDict, key_line, line_of, load_yaml_fast, load_yaml_with_lines

# Names reach SQL, API filter strings, Dagster keys and file names (a table's folder, its
# checkpoint and its expectation companion `etl_quality__<name>`): plain identifiers of at most
# 128 characters keep every derived file name within the 255 bytes file systems allow.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# Dagster's own rule for tag keys (an optional prefix/ then a name).
TAG_KEY = re.compile(r"^([A-Za-z0-9_.-]{1,63}/)?[A-Za-z0-9_.-]{1,63}$")
OWNER = re.compile(r"^([^@\s]+@[^@\s]+\.[^@\s]+|team:[A-Za-z0-9_.-]+)$")
TOP_LEVEL_KEYS = ("catalog", "schema", "pipelines", "schedules", "automation", "freshness", "tables")
# What a transformation file may be: Python or SQL, plain or exported from a Databricks notebook.
SOURCE_SUFFIXES = (".py", ".sql")
# Settings of the Spark server itself, which the local engine manages for each home.
_SERVER_SETTINGS = ("spark.master", "spark.driver.", "spark.executor.", "spark.sql.catalogImplementation",
                    "spark.sql.warehouse.dir", "spark.sql.catalog.spark_catalog", "spark.jars", "spark.local.dir",
                    "spark.connect.", "spark.ui.", "spark.sql.extensions")
_RESERVED_CONFIGURATION = "etl_assets."

# A pydantic error location: keys and list indexes from the validated mapping down.
Loc = tuple[int | str, ...]

_IDENTIFIER_HINT = "use at most 128 letters, digits and underscores, starting with a letter or underscore"


def parse_and_validate(text: str, path: Path, *, check_files: bool = True) -> ProjectConfig:
    """Parse config text and check every rule; raise `ConfigError` listing all problems.

    A valid file takes the fast parser only. When anything is wrong, the file is parsed again
    with line tracking and checked again, so each problem can say where it is.
    """
    try:
        doc = load_yaml_fast(text)
    except ValueError:
        doc = None  # syntax or duplicate key: the line-tracking parser says where
    if doc is not None:
        checker = _Checker(path, check_files)
        config = checker.run(doc)
        if not checker.problems:
            assert config is not None
            return config
    checker = _Checker(path, check_files)
    try:
        located = load_yaml_with_lines(text)
    except yaml.YAMLError as exc:
        checker.syntax_error(exc)
    else:
        checker.run(located)
    if not checker.problems:  # only the fast parser objected
        try:
            load_yaml_fast(text)
        except ValueError as exc:
            checker.problem(None, f"YAML error: {exc}", hint="check the file around the line shown")
    raise ConfigError(sorted(checker.problems, key=lambda p: (p.line or 0)))


_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_CRON_NAMES = {3: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
               4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]}
_CRON_ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def cron_problem(expression: str) -> str | None:
    """What is wrong with a five-field cron expression, or None when it is valid.

    >>> cron_problem("0 99 * * *")
    'hour 99 is not within 0-23'
    """
    if expression.strip().lower() in _CRON_ALIASES:
        return None
    fields = expression.split()
    if len(fields) != 5:
        return f"{len(fields)} fields instead of 5"
    for index, (text, (what, low, high)) in enumerate(zip(fields, _CRON_FIELDS)):
        names = _CRON_NAMES.get(index, [])
        for part in text.lower().split(","):
            base, _, step = part.partition("/")
            if step and not step.isdigit():
                return f"{what} step '{step}' is not a number"
            if base == "*":
                continue
            for value in base.split("-", 1):
                if value in names:
                    continue
                if not value.isdigit():
                    return f"{what} '{value}' is not a number"
                if not low <= int(value) <= high:
                    return f"{what} {value} is not within {low}-{high}"
    return None


def selection_problem(selection: str) -> str | None:
    """What is structurally wrong with a Dagster selection string (Dagster's own parser is lenient
    with a dangling operator or parenthesis), or None.

    >>> selection_problem("tag:daily and (")
    'has an unclosed parenthesis'
    """
    depth = 0
    for char in selection:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return "closes a parenthesis it never opened"
    if depth:
        return "has an unclosed parenthesis"
    words = selection.replace("(", " ( ").replace(")", " ) ").split()
    if not words:
        return "is empty"
    if words[-1].lower() in ("and", "or", "not") or words[0].lower() in ("and", "or"):
        return f"has '{words[-1] if words[-1].lower() in ('and', 'or', 'not') else words[0]}' with nothing on one side"
    return None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """'did you mean X?' for the closest choice, or None when nothing is close."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None


class _Report:
    """The problems found in one config file, and the rules every section shares."""

    def __init__(self, path: Path, check_files: bool):
        self.path = path
        self.file = path.name
        self.check_files = check_files
        self.problems: list[ConfigProblem] = []

    def problem(self, line: int | None, message: str, table: str | None = None, hint: str | None = None) -> None:
        """Record one problem of this file."""
        self.problems.append(ConfigProblem(self.file, line, message, table, hint))

    def syntax_error(self, exc: yaml.YAMLError) -> None:
        """Record a YAML syntax error at the line PyYAML marks."""
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        self.problem(mark.line + 1 if mark else None, f"YAML syntax error: {problem}",
                     hint="check indentation and quoting around this line")

    def duplicate_keys(self, node: Any) -> None:
        if isinstance(node, LineDict):
            for key, line in node.duplicate_keys:
                self.problem(line, f"key '{key}' appears twice in one mapping; the first one would be lost",
                             hint="remove or merge one of them")
            for value in node.values():
                self.duplicate_keys(value)
        elif isinstance(node, list):
            for value in node:
                self.duplicate_keys(value)

    def unknown_keys(self, mapping: dict[Any, Any], allowed: Iterable[str], table: str | None, what: str) -> None:
        allowed = list(allowed)
        for key in mapping:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed) or f"allowed: {', '.join(allowed)}"
                self.problem(key_line(mapping, str(key)), f"unknown {what} '{key}'", table, hint)

    def validate_model(self, model: type[BaseModel], raw: dict[Any, Any], table: str | None, what: str,
                       line: int | None = None) -> Any:
        """The model, or None after reporting every structural problem of `raw` (at `line` when
        `raw` itself carries no line numbers)."""
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            reported: set[Loc] = set()
            for error in exc.errors():
                # A field that may take several forms fails once per form: report it once.
                loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
                if loc in reported:
                    continue
                reported.add(loc)
                self._pydantic_problem(model, raw, {**error, "loc": loc}, table, what, line)
            return None

    def salvage(self, model: type[BaseModel], raw: dict[Any, Any]) -> Any:
        """`raw` without its offending keys, validated, so later rules can still be checked."""
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            bad = {e["loc"][0] for e in exc.errors() if e["loc"] and e["type"] != "missing"}
            if not bad:
                return None
            try:
                return model.model_validate({k: v for k, v in raw.items() if k not in bad})
            except ValidationError:
                return None

    def _pydantic_problem(self, model: type[BaseModel], raw: dict[Any, Any], error: Any, table: str | None, what: str,
                          fallback: int | None = None) -> None:
        loc = tuple(error["loc"])
        line = _line_at(raw, loc) or fallback
        field = _format_loc(loc)
        if error["type"] == "extra_forbidden":
            allowed = [f.alias or n for n, f in _model_at(model, loc[:-1]).model_fields.items()]
            hint = did_you_mean(str(loc[-1]), allowed) or f"allowed keys: {', '.join(allowed)}"
            prefix = f"{_format_loc(loc[:-1])}: " if loc[:-1] else ""
            self.problem(line, f"{prefix}unknown {what} key '{loc[-1]}'", table, hint)
        elif error["type"] == "missing":
            self.problem(line, f"missing required key '{field}'", table, f"add '{loc[-1]}:' to this {what}")
        else:
            message = error["msg"].replace("a valid tuple", "a list").replace("Input should", "should")
            self.problem(line, f"'{field}' {message}, got {error.get('input')!r}", table, _FIELD_HINTS.get(str(loc[-1])))

    def identifier(self, value: str, line: int | None, what: str, table: str | None) -> bool:
        if IDENTIFIER.match(value):
            return True
        self.problem(line, f"{what} '{value}' is not a safe identifier (it is used in SQL, API filters and Dagster keys)",
                     table, _IDENTIFIER_HINT)
        return False


class _Section:
    """The rules of one section of config.yml; problems go to the shared report."""

    def __init__(self, report: _Report):
        self.report = report


class _PipelineRules(_Section):
    """`pipelines:`: keys, deployed names, settings and library globs."""

    def check(self, doc: dict[Any, Any]) -> dict[str, Pipeline]:
        raw = doc.get("pipelines")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.report.problem(key_line(doc, "pipelines"), "'pipelines' must be a mapping of pipeline key to settings",
                                hint="write 'pipelines:' then '  orders: {name: orders_pipeline}'")
            return {}
        pipelines: dict[str, Pipeline] = {}
        deployed: dict[str, str] = {}
        for key, settings in raw.items():
            line = key_line(raw, str(key))
            key = str(key)
            if not self.report.identifier(key, line, "pipeline key", None):
                continue
            settings = {} if settings is None else settings
            if not isinstance(settings, dict):
                self.report.problem(line, f"pipeline '{key}' must be a mapping (name, id, description)",
                                    hint=f"write '{key}: {{name: {key}}}'")
                continue
            pipeline = self.report.validate_model(Pipeline, {"key": key, "name": key, **settings}, None, f"pipeline '{key}'",
                                                  line)
            if pipeline is None:
                continue
            if pipeline.name in deployed:
                self.report.problem(key_line(settings, "name", line),
                                    f"pipelines '{deployed[pipeline.name]}' and '{key}' have the same deployed name "
                                    f"'{pipeline.name}'",
                                    hint="each config pipeline maps to its own deployed pipeline")
            deployed.setdefault(pipeline.name, key)
            if self._settings(pipeline, settings, line):
                pipelines[key] = pipeline
        return pipelines

    def _settings(self, pipeline: Pipeline, raw: dict[Any, Any], line: int | None) -> bool:
        ok = True
        where = f"pipeline '{pipeline.key}'"
        for name in ("catalog", "schema"):
            value = raw.get(name)
            if isinstance(value, str):
                ok &= self.report.identifier(value, key_line(raw, name, line), f"{where} {name}", None)
        for key in pipeline.configuration:
            if key.startswith(_RESERVED_CONFIGURATION):
                self.report.problem(key_line(raw, "configuration", line),
                                    f"{where}: configuration key '{key}' is reserved (etl_assets sets it for each engine)",
                                    hint="use another key")
                ok = False
        for key in pipeline.spark_conf:
            if not key.startswith("spark."):
                self.report.problem(key_line(raw, "spark_conf", line), f"{where}: spark_conf key '{key}' is not a Spark setting",
                                    hint="Spark settings start with 'spark.', e.g. spark.sql.ansi.enabled; "
                                         "put other keys under 'configuration:'")
                ok = False
            elif key.startswith(_SERVER_SETTINGS):
                self.report.problem(key_line(raw, "spark_conf", line),
                                    f"{where}: spark_conf '{key}' is a setting of the local Spark server, which etl_assets "
                                    "manages per home", hint="keep spark_conf to session settings such as "
                                    "spark.sql.ansi.enabled or spark.sql.shuffle.partitions")
                ok = False
        if self.report.check_files:
            for pattern in pipeline.libraries:
                if ".." in Path(pattern).parts or Path(pattern).is_absolute():
                    self.report.problem(key_line(raw, "libraries", line),
                                        f"{where}: library '{pattern}' is outside the project folder",
                                        hint="give paths and globs relative to the folder of config.yml")
                    ok = False
                    continue
                files = [m for m in library_matches(self.report.path.parent, pattern) if m.is_file()]
                if not files:
                    self.report.problem(key_line(raw, "libraries", line),
                                        f"{where}: library '{pattern}' matches no file",
                                        hint="give a file or a glob such as 'transformations/orders/**/*.py', relative to "
                                             "the folder of config.yml")
                    ok = False
                for file in files:
                    if file.suffix not in SOURCE_SUFFIXES:
                        relative = file.relative_to(self.report.path.parent).as_posix()
                        self.report.problem(key_line(raw, "libraries", line),
                                            f"{where}: library file {relative} is not Python (.py) or SQL (.sql)",
                                            hint=_SUFFIX_HINT)
                        ok = False
        return ok


class _TableRules(_Section):
    """`tables:`: each entry's keys, layer, pipeline, tags, dependencies, owners, expectations and file."""

    def __init__(self, report: _Report, namespaces: tuple[str | None, str | None]):
        super().__init__(report)
        # The top-level catalog and schema, as written: code may name a table with them.
        self._namespaces = namespaces
        self._tables_by_pipeline: dict[str, dict[str, Path]] = {}

    def check(self, doc: dict[Any, Any], pipelines: dict[str, Pipeline]) -> list[Table]:
        raw_tables = doc.get("tables")
        if raw_tables is None:
            self.report.problem(1, "config has no 'tables:' list", hint="add 'tables:' with one '- name: ...' entry per table")
            return []
        if not isinstance(raw_tables, list):
            self.report.problem(key_line(doc, "tables"), "'tables' must be a list of table entries",
                                hint="write each table as '- name: ...' under 'tables:'")
            return []
        item_lines = getattr(raw_tables, "item_lines", [None] * len(raw_tables))
        declared = {str(e["name"]) for e in raw_tables if isinstance(e, dict) and isinstance(e.get("name"), str)}
        implicit_pipeline = not pipelines
        if implicit_pipeline:
            pipelines[DEFAULT_PIPELINE_KEY] = Pipeline(key=DEFAULT_PIPELINE_KEY, name=DEFAULT_PIPELINE_KEY)

        tables: list[Table] = []  # valid ones
        checked: list[tuple[Table, int | None]] = []  # every entry that could be read, for the graph rules
        seen: dict[str, tuple[str, int | None]] = {}
        for raw, line in zip(raw_tables, item_lines):
            if not isinstance(raw, dict):
                self.report.problem(line, f"each table must be a mapping, got {raw!r}",
                                    hint="write '- name: my_table' and its keys")
                continue
            name = raw.get("name") if isinstance(raw.get("name"), str) else None
            table = self.report.validate_model(Table, raw, name, "table")
            ok = table is not None
            if table is None:
                table = self.report.salvage(Table, raw)
                if table is None:
                    continue
            ok &= self.report.identifier(table.name, key_line(raw, "name", line), "table name", None)
            folded = table.name.lower()
            if folded in seen:
                first_name, first_line = seen[folded]
                case = f" ('{first_name}'; names are case-insensitive in Spark and Unity Catalog)"
                same = "" if first_name == table.name else case
                self.report.problem(key_line(raw, "name", line),
                                    f"duplicate table name, first defined on line {first_line}{same}",
                                    table.name, "rename one of them or remove the copy")
                ok = False
            seen.setdefault(folded, (table.name, line))
            ok &= self._layer(table, raw)
            resolved = self._pipeline_of(table, raw, line, pipelines, implicit_pipeline)
            ok &= resolved is not None
            ok &= self._tags(table, raw)
            ok &= self._depends_on(table, raw, declared)
            ok &= self._owners(table, raw)
            ok &= self._expectations(table, raw)
            ok &= _condition_ok(self.report, table.automation, key_line(raw, "automation", line), table.name)
            ok &= _freshness_ok(self.report, table.freshness, key_line(raw, "freshness", line), table.name)
            ok &= self._example_data(table, raw, line)
            if resolved is not None:
                table = table.model_copy(update={"pipeline": resolved})
            if ok:
                ok &= self._transformation_file(table, line, pipelines)
            checked.append((table, line))
            if ok:
                tables.append(table)
        if self.report.check_files:
            read = self._code_dependencies([t for t, _ in checked], pipelines)
            if read:
                def more(t: Table) -> Table:
                    return t.model_copy(update={"depends_on": t.depends_on + read[t.name]}) if t.name in read else t
                checked = [(more(t), line) for t, line in checked]
                tables = [more(t) for t in tables]
        _GraphRules(self.report).check(checked)
        return tables

    def _code_dependencies(self, tables: list[Table], pipelines: dict[str, Pipeline]) -> dict[str, tuple[str, ...]]:
        """Table -> the config tables its code reads by name (`spark.read.table`, `dlt.read`,
        `spark.sql` text, SQL FROM / JOIN) that its `depends_on` does not list. A read of a view
        or another dataset of the pipeline that is no config table counts as what that dataset
        reads; names built at run time give nothing."""
        by_name = {t.name: t for t in reversed(tables)}
        top_catalog, top_schema = self._namespaces
        namespaces = {key: (p.catalog or top_catalog, p.schema_ or top_schema) for key, p in pipelines.items()}
        root = self.report.path.parent
        reads_in: dict[str, dict[str, tuple[str, ...]]] = {}
        for key, pipeline in pipelines.items():
            files = [m for p in library_paths(root, pipeline.libraries) if p.suffix in SOURCE_SUFFIXES
                     for m in (p, *package_modules(p))]
            files += [root / transformation_relpath(t) for t in tables if t.pipeline == key]
            merged: dict[str, tuple[str, ...]] = {}
            for path in dict.fromkeys(f for f in files if f.suffix in SOURCE_SUFFIXES and f.is_file()):
                for name, names in code_facts(path).as_tables(*namespaces[key]).reads.items():
                    merged[name] = tuple(dict.fromkeys(merged.get(name, ()) + names))
            reads_in[key] = merged

        def config_table(name: str, key: str) -> str | None:
            # The pipeline's own names first (`t`, `<schema>.t`, `LIVE.t`), then another pipeline's schema.
            for other in (key, *(k for k in namespaces if k != key)):
                mapped = config_table_name(name, *namespaces[other])
                if mapped in by_name and (other == key or by_name[mapped].pipeline == other):
                    return mapped
            return None

        found: dict[str, tuple[str, ...]] = {}
        for table in tables:
            key = table.pipeline or ""
            reads = reads_in.get(key, {})
            todo, seen, deps = list(reads.get(table.name, ())), {table.name}, []
            while todo:
                name = todo.pop(0)
                dep = config_table(name, key) if key in namespaces else None
                if dep is not None:
                    if dep != table.name and dep not in table.depends_on and dep not in deps:
                        deps.append(dep)
                    continue
                local = config_table_name(name, *namespaces.get(key, (None, None)))
                if local in reads and local not in seen:
                    seen.add(local)
                    todo[:0] = reads[local]  # what the view reads, where the view is read
            if deps:
                found[table.name] = tuple(deps)
        return found

    def _layer(self, table: Table, raw: dict[Any, Any]) -> bool:
        if table.layer in LAYERS:
            return True
        hint = did_you_mean(table.layer, LAYERS) or f"use one of: {', '.join(LAYERS)}"
        self.report.problem(key_line(raw, "layer"), f"unknown layer '{table.layer}'", table.name, hint)
        return False

    def _pipeline_of(
        self, table: Table, raw: dict[Any, Any], line: int | None, pipelines: dict[str, Pipeline], implicit: bool
    ) -> str | None:
        if table.pipeline is None:
            if len(pipelines) == 1:
                return next(iter(pipelines))
            self.report.problem(line, f"no 'pipeline:' given and there are {len(pipelines)} pipelines",
                                table.name, f"add 'pipeline:' with one of: {', '.join(pipelines)}")
            return None
        if table.pipeline in pipelines and not implicit:
            return table.pipeline
        if implicit:
            hint = f"declare it under 'pipelines:' (e.g. 'pipelines: {{{table.pipeline}: {{name: {table.pipeline}}}}}')"
        else:
            hint = did_you_mean(table.pipeline, pipelines) or f"declared pipelines: {', '.join(pipelines)}"
        self.report.problem(key_line(raw, "pipeline"), f"pipeline '{table.pipeline}' is not declared under 'pipelines:'",
                            table.name, hint)
        return None

    def _example_data(self, table: Table, raw: dict[Any, Any], line: int | None) -> bool:
        from etl_assets.example.datagen import DATASETS

        if table.source is None or not table.source.example_data or table.source.path in DATASETS:
            return True
        self.report.problem(key_line(raw, "source", line), f"source '{table.source.path}': example_data generates only "
                            f"the example's {' and '.join(DATASETS)} files", table.name,
                            "remove 'example_data: true'; new files in the landing folder update the raw asset")
        return False

    def _tags(self, table: Table, raw: dict[Any, Any]) -> bool:
        ok = True
        lines = getattr(raw.get("tags"), "item_lines", [])
        for i, tag in enumerate(table.tags):
            line = lines[i] if i < len(lines) else key_line(raw, "tags")
            if tag.startswith("dagster/"):
                self.report.problem(line, f"tag '{tag}' uses the 'dagster/' prefix, which Dagster reserves", table.name,
                                    "drop the prefix or use your own, e.g. 'team/daily'")
                ok = False
            elif not TAG_KEY.match(tag):
                self.report.problem(line, f"tag '{tag}' is not a valid Dagster tag", table.name,
                                    "tags are 1-63 letters, digits, '_', '.' or '-', optionally after one 'prefix/'")
                ok = False
        return ok

    def _depends_on(self, table: Table, raw: dict[Any, Any], declared: set[str]) -> bool:
        ok = True
        lines = getattr(raw.get("depends_on"), "item_lines", [])
        for i, dep in enumerate(table.depends_on):
            if dep not in declared:
                line = lines[i] if i < len(lines) else key_line(raw, "depends_on")
                hint = did_you_mean(dep, declared) or "add that table to config.yml or remove the dependency"
                self.report.problem(line, f"depends on '{dep}', which is not a table in this config", table.name, hint)
                ok = False
        return ok

    def _owners(self, table: Table, raw: dict[Any, Any]) -> bool:
        bad = [o for o in table.owners if not OWNER.match(o)]
        for owner in bad:
            self.report.problem(key_line(raw, "owners"), f"owner '{owner}' is neither an email address nor 'team:<name>'",
                                table.name, "Dagster accepts 'someone@example.com' or 'team:data_eng'")
        return not bad

    def _expectations(self, table: Table, raw: dict[Any, Any]) -> bool:
        ok = True
        raw_list = raw.get("expectations") or []
        lines = getattr(raw_list, "item_lines", [None] * len(raw_list))
        seen: set[str] = set()
        # Names are compared on the raw entries: one entry with a bad action must not hide a duplicate.
        for entry, line in zip(raw_list if isinstance(raw_list, list) else [], lines):
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and name in seen:
                self.report.problem(line or key_line(raw, "expectations"), f"expectation '{name}' is defined twice",
                                    table.name, "give each expectation of a table its own name")
                ok = False
            if isinstance(name, str):
                seen.add(name)
        for expectation, line in zip(table.expectations, lines):
            line = line or key_line(raw, "expectations")
            ok &= self.report.identifier(expectation.name, line, "expectation name", table.name)
            if not expectation.condition.strip():
                self.report.problem(line, f"expectation '{expectation.name}' has an empty condition", table.name,
                                    "write a SQL boolean expression, e.g. 'id IS NOT NULL'")
                ok = False
            if expectation.max_failed_share is not None and expectation.max_failed_records is not None:
                self.report.problem(line, f"expectation '{expectation.name}' sets both max_failed_share and "
                                    "max_failed_records", table.name, "keep one tolerance: a share (0..1) or a number of rows")
                ok = False
            if expectation.action == "fail" and (expectation.max_failed_share is not None
                                                 or expectation.max_failed_records is not None):
                self.report.problem(line, f"expectation '{expectation.name}' has action fail and a tolerance, but the "
                                    "update stops at the first failing row", table.name,
                                    "use action warn or drop with a tolerance, or remove the tolerance")
                ok = False
        return ok

    def _transformation_file(self, table: Table, line: int | None, pipelines: dict[str, Pipeline]) -> bool:
        if not self.report.check_files:
            return True
        relative = transformation_relpath(table)
        if table.file is not None:
            if Path(table.file).is_absolute() or ".." in Path(table.file).parts:
                self.report.problem(line, f"file {table.file} is outside the project folder", table.name,
                                    "give the path relative to the folder of config.yml")
                return False
            if Path(table.file).suffix not in SOURCE_SUFFIXES:
                self.report.problem(line, f"file {table.file} is not Python (.py) or SQL (.sql)", table.name, _SUFFIX_HINT)
                return False
        if (self.report.path.parent / relative).is_file():
            return True
        pipeline = pipelines.get(table.pipeline or "")
        if table.file is None and pipeline is not None and pipeline.libraries:
            if table.name in self._library_tables(pipeline):
                return True
            self.report.problem(line, f"no library file of pipeline '{pipeline.key}' defines '{table.name}', and "
                                f"{relative} does not exist", table.name,
                                f"add 'file:' naming the file that defines it, or define it in one of: "
                                f"{', '.join(pipeline.libraries)}")
            return False
        if (self.report.path.parent / relative).exists():
            self.report.problem(line, f"transformation file {relative} is a folder, not a file", table.name,
                                f"remove or rename the folder and put the code of '{table.name}' in {relative}")
            return False
        self.report.problem(line, f"transformation file {relative} is missing", table.name,
                            f"create {relative} defining the dataset '{table.name}' with pyspark.pipelines")
        return False

    def _library_tables(self, pipeline: Pipeline) -> dict[str, Path]:
        """Config table name -> the library file of `pipeline` defining it (globbed and read once
        per pipeline, not once per table)."""
        if pipeline.key not in self._tables_by_pipeline:
            top_catalog, top_schema = self._namespaces
            files = [m for p in library_paths(self.report.path.parent, pipeline.libraries) if p.suffix in SOURCE_SUFFIXES
                     for m in (p, *package_modules(p))]
            self._tables_by_pipeline[pipeline.key] = tables_in_files(
                files, pipeline.catalog or top_catalog, pipeline.schema_ or top_schema)
        return self._tables_by_pipeline[pipeline.key]


class _GraphRules(_Section):
    """The dependency graph: no cycle between tables, nor between pipelines."""

    def check(self, checked: list[tuple[Table, int | None]]) -> None:
        tables = [t for t, _ in checked]
        line_of = {t.name: line for t, line in reversed(checked)}
        by_name = {t.name: t for t in reversed(tables)}  # the first of duplicate names wins
        names = list(dict.fromkeys(t.name for t in tables))
        edges = {n: list(by_name[n].depends_on) for n in names}
        cycles = find_cycles(names, edges)
        for cycle in cycles:
            self.report.problem(line_of[cycle[0]], f"dependency cycle: {' -> '.join(cycle)} (each table depends on the next)",
                                cycle[0], "remove one of these depends_on entries, or the read in code that makes it")
        if cycles or any(t.pipeline is None for t in tables):
            return
        tables = [by_name[n] for n in names]
        pipeline_edges: dict[str, set[str]] = {}
        example: dict[tuple[str, str], tuple[str, str]] = {}
        for t in tables:
            for dep in t.depends_on:
                if dep not in by_name:
                    continue
                other = by_name[dep].pipeline
                if other != t.pipeline:
                    pipeline_edges.setdefault(t.pipeline or "", set()).add(other or "")
                    example.setdefault((t.pipeline or "", other or ""), (t.name, dep))
        keys = list(dict.fromkeys(t.pipeline or "" for t in tables))
        for cycle in find_cycles(keys, {k: sorted(v) for k, v in pipeline_edges.items()}):
            links = ", ".join(f"{example[(a, b)][0]} reads {example[(a, b)][1]}" for a, b in zip(cycle, cycle[1:]))
            # Where the first cross-pipeline read of the cycle is declared.
            first_read = line_of.get(example[(cycle[0], cycle[1])][0])
            self.report.problem(first_read, f"pipeline cycle: {' -> '.join(cycle)} ({links}); pipelines run one after another, "
                                "so each must only read pipelines that run before it",
                                None, "move these tables so the pipelines depend on each other one way only")


class _ScheduleRules(_Section):
    """`schedules:`: names, selections, crons and timezones."""

    def check(self, doc: dict[Any, Any]) -> list[Schedule]:
        raw = doc.get("schedules")
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.report.problem(key_line(doc, "schedules"), "'schedules' must be a list",
                                hint="write '- name: daily' with 'cron:' and 'selection:' for each schedule")
            return []
        schedules: list[Schedule] = []
        names: set[str] = set()
        for entry, line in zip(raw, getattr(raw, "item_lines", [None] * len(raw))):
            if not isinstance(entry, dict):
                self.report.problem(line, f"each schedule must be a mapping, got {entry!r}",
                                    hint="write '- name: daily' with 'cron:' and 'selection:'")
                continue
            schedule = self.report.validate_model(Schedule, entry, None, "schedule")
            if schedule is None:
                continue
            if not self.report.identifier(schedule.name, line, "schedule name", None):
                continue
            if schedule.name in names:
                self.report.problem(line, f"schedule '{schedule.name}' is defined twice", hint="give each schedule its own name")
                continue
            names.add(schedule.name)
            selection_error = selection_problem(schedule.selection)
            if selection_error:
                self.report.problem(key_line(entry, "selection", line), f"schedule '{schedule.name}': selection "
                                    f"'{schedule.selection}' {selection_error}",
                                    hint="use Dagster's selection syntax, e.g. 'tag:daily and tag:critical' or 'group:gold'")
            cron_error = cron_problem(schedule.cron)
            if cron_error:
                self.report.problem(key_line(entry, "cron", line), f"schedule '{schedule.name}': invalid cron "
                                    f"'{schedule.cron}': {cron_error}",
                                    hint="use five fields: minute hour day-of-month month day-of-week, e.g. '0 6 * * *'")
            try:
                ZoneInfo(schedule.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                self.report.problem(key_line(entry, "timezone", line),
                                    f"schedule '{schedule.name}': unknown timezone '{schedule.timezone}'",
                                    hint="use an IANA name such as 'UTC' or 'Europe/Paris'")
                continue
            schedules.append(schedule)
        return schedules


class _RuleRules(_Section):
    """`automation:` and `freshness:`: conditions and freshness limits given by selection."""

    def check(self, doc: dict[Any, Any], section: str, model: type[AutomationRule] | type[FreshnessRule]) -> list[Any]:
        raw = doc.get(section)
        if raw is None:
            return []
        example = "'- {selection: tag:silver, condition: eager}'" if section == "automation" else \
            "'- {selection: tag:critical, fail_after: 26h}'"
        if not isinstance(raw, list):
            self.report.problem(key_line(doc, section), f"'{section}' must be a list", hint=f"write {example}")
            return []
        rules: list[Any] = []
        seen: set[str] = set()
        for entry, line in zip(raw, getattr(raw, "item_lines", [None] * len(raw))):
            if not isinstance(entry, dict):
                self.report.problem(line, f"each {section} rule must be a mapping, got {entry!r}", hint=f"write {example}")
                continue
            rule = self.report.validate_model(model, entry, None, f"{section} rule", line)
            if rule is None:
                continue
            where = key_line(entry, "selection", line)
            try:
                parse_selection(rule.selection)
            except ValueError as exc:
                self.report.problem(where, f"{section}: selection '{rule.selection}' {exc}",
                                    hint="select tables by their own attributes, e.g. 'tag:silver and not group:gold'")
                continue
            if rule.selection in seen:
                self.report.problem(where, f"{section}: selection '{rule.selection}' is given twice",
                                    hint="merge the two rules")
                continue
            seen.add(rule.selection)
            if isinstance(rule, AutomationRule):
                ok = _condition_ok(self.report, rule.condition, key_line(entry, "condition", line), None)
            else:
                ok = _freshness_ok(self.report, rule, line, None)
            if ok:
                rules.append(rule)
        return rules


def _condition_ok(report: _Report, condition: Condition | None, line: int | None, table: str | None) -> bool:
    """An `on_cron` condition's cron and timezone are valid (the named conditions always are)."""
    if not isinstance(condition, OnCron):
        return True
    ok = True
    cron_error = cron_problem(condition.on_cron)
    if cron_error:
        report.problem(line, f"automation: invalid cron '{condition.on_cron}': {cron_error}", table,
                       "use five fields, e.g. '0 6 * * *'")
        ok = False
    try:
        ZoneInfo(condition.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        report.problem(line, f"automation: unknown timezone '{condition.timezone}'", table,
                       "use an IANA name such as 'UTC' or 'Europe/Paris'")
        ok = False
    return ok


def _freshness_ok(report: _Report, freshness: Freshness | None, line: int | None, table: str | None) -> bool:
    """Freshness durations read as durations, and a warning comes before the failure."""
    if freshness is None:
        return True
    windows = []
    for name in ("fail_after", "warn_after"):
        text = getattr(freshness, name)
        if text is None:
            continue
        try:
            windows.append(duration(text))
        except ValueError as exc:
            report.problem(line, f"freshness: {name} {exc}", table, "give minutes, hours or days: 30m, 26h, 2d")
            return False
    if len(windows) == 2 and windows[1] >= windows[0]:
        report.problem(line, f"freshness: warn_after {freshness.warn_after} is not shorter than fail_after "
                       f"{freshness.fail_after}", table, "warn before the table fails: e.g. warn_after: 12h, fail_after: 26h")
        return False
    return True


class _Checker:
    """Every rule of one config file, section by section."""

    def __init__(self, path: Path, check_files: bool):
        self.path = path
        self.report = _Report(path, check_files)

    @property
    def problems(self) -> list[ConfigProblem]:
        return self.report.problems

    def problem(self, line: int | None, message: str, table: str | None = None, hint: str | None = None) -> None:
        self.report.problem(line, message, table, hint)

    def syntax_error(self, exc: yaml.YAMLError) -> None:
        self.report.syntax_error(exc)

    def run(self, doc: Any) -> ProjectConfig | None:
        """Check every rule of a parsed document; the config, or None when a problem was recorded."""
        if not isinstance(doc, dict):
            self.problem(1, "config must be a mapping with a 'tables:' list",
                         hint="start the file with 'tables:' followed by '- name: ...' entries")
            return None
        self.report.duplicate_keys(doc)
        self.report.unknown_keys(doc, TOP_LEVEL_KEYS, table=None, what="top-level key")
        namespaces = (_text_or_none(doc.get("catalog")), _text_or_none(doc.get("schema")))
        pipelines = _PipelineRules(self.report).check(doc)
        tables = _TableRules(self.report, namespaces).check(doc, pipelines)
        schedules = _ScheduleRules(self.report).check(doc)
        automation = _RuleRules(self.report).check(doc, "automation", AutomationRule)
        freshness = _RuleRules(self.report).check(doc, "freshness", FreshnessRule)
        catalog, schema = (self._namespace(doc, key) for key in ("catalog", "schema"))
        if self.problems:
            return None
        return ProjectConfig(path=self.path, tables=tuple(tables), pipelines=pipelines, schedules=tuple(schedules),
                             automation=tuple(automation), freshness=tuple(freshness), catalog=catalog, schema=schema)

    def _namespace(self, doc: dict[Any, Any], key: str) -> str | None:
        value = doc.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(key_line(doc, key), f"'{key}' must be a name, got {value!r}",
                         hint=f"e.g. '{key}: {'main' if key == 'catalog' else 'etl'}'")
            return None
        return value if self.report.identifier(value, key_line(doc, key), key, None) else None


_SUFFIX_HINT = ("transformations are Python or SQL files, plain or exported from a Databricks notebook "
                "(File > Export > Source file); .ipynb and .dbc files are not read")


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


_FIELD_HINTS = {
    "tags": "write tags as a list, e.g. 'tags: [daily, critical]'",
    "depends_on": "write dependencies as a list of table names, e.g. 'depends_on: [orders_bronze]'",
    "owners": "write owners as a list, e.g. 'owners: [team:data_eng]'",
    "action": "use warn (keep rows), drop (drop failing rows) or fail (stop the update)",
    "format": "use json, csv or parquet",
    "type": "only 'files' sources are supported",
    "expectations": "write '- {name: valid_id, condition: \"id IS NOT NULL\", action: drop}'",
    "max_failed_share": "a share of the rows checked, from 0 to 1 (0.02 lets 2% fail)",
    "max_failed_records": "a whole number of rows, 0 or more",
    "automation": "use eager, on_missing, or {on_cron: '0 6 * * *'}",
    "condition": "use eager, on_missing, or {on_cron: '0 6 * * *'}",
    "fail_after": "a duration such as 30m, 26h or 2d",
    "warn_after": "a duration such as 30m, 26h or 2d",
    "freshness": "write '{fail_after: 26h}' (and optionally 'warn_after: 12h')",
}


def _is_union_tag(part: Any) -> bool:
    """Pydantic names the member of a union in error locations (`literal[...]`, `OnCron`)."""
    return isinstance(part, str) and ("[" in part or part[:1].isupper())


def _line_at(raw: Any, loc: Loc) -> int | None:
    """The line of the deepest node along a pydantic error location."""
    line = line_of(raw)
    node = raw
    for part in loc:
        if isinstance(node, dict) and part in node:
            line = key_line(node, str(part), line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            lines = getattr(node, "item_lines", None)
            line = lines[part] if lines else line
            node = node[part]
        else:
            break
    return line


def _format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel]:
    """The nested model a location points into (for listing the keys it allows)."""
    for part in loc:
        if isinstance(part, int) or part not in model.model_fields:
            continue
        nested = _nested_models(model.model_fields[part].annotation)
        if nested:
            model = nested[0]
    return model


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _nested_models(arg)]
