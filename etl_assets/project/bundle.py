"""Config, code and bundle checked together: the Asset Bundle must deploy what config.yml
describes, and the transformations must define exactly the configured tables."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from etl_assets.conventions import config_table_name, name_parts
from etl_assets.errors import ConfigProblem
from etl_assets.project.config import ProjectConfig
from etl_assets.project.validation import did_you_mean
from etl_assets.project.yaml_lines import key_line, load_yaml_with_lines
from etl_assets.translation.sources import datasets_defined, datasets_in_python, tables_defined
from etl_assets.translation.sql_text import SourceError

BUNDLE_FILE = "databricks.yml"
_VAR = re.compile(r"\$\{var\.([A-Za-z0-9_]+)\}")
_RESOURCE = re.compile(r"\$\{resources\.([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)(?:\.[A-Za-z0-9_.]+)?\}")
_RESOURCE_CLASSES = {"pipelines": "Pipeline", "jobs": "Job", "volumes": "Volume"}


@dataclass
class Bundle:
    """The bundle's files, merged resources and variables, each item with its file and line."""

    root: Path
    files: dict[Path, Any] = field(default_factory=dict)
    variables: dict[str, tuple[Path, int | None]] = field(default_factory=dict)
    resources: dict[str, dict[str, tuple[dict[Any, Any], Path, int | None]]] = field(default_factory=dict)


def defined_datasets(path: Path) -> dict[str, int]:
    """Datasets a transformation file defines, read from its code (no Spark): name -> line.

    Python files, SQL files and Databricks notebook sources (see `etl_assets.translation.sources`).
    """
    return {name: facts.line for name, facts in datasets_defined(path).items()}


def datasets_in(tree: Any) -> dict[str, int]:
    """`defined_datasets` of an already parsed Python module."""
    return {name: facts.line for name, facts in datasets_in_python(tree).items()}


def check_code(config: ProjectConfig) -> list[ConfigProblem]:
    """Every configured table is defined by its file; every published dataset of the project's
    files (transformations/ and each pipeline's libraries) is configured. Views, temporary views
    and private datasets are the pipeline's own business: they need no table in config."""
    problems = []
    configured = set(config.table_names)
    # A name qualified with a pipeline's catalog and schema is that pipeline's table.
    namespaces = {(config.catalog_of(key), config.schema_of(key)) for key in config.pipelines}
    unreadable: set[Path] = set()
    for table in config.tables:
        path = config.transformation_path(table)
        if not path.is_file():
            continue
        relative = config.relative_transformation_path(table)
        try:
            datasets = tables_defined(path, *config.namespace_of(config.pipeline_of(table).key))
        except SyntaxError as exc:
            problems.append(ConfigProblem(relative, exc.lineno, f"Python syntax error: {exc.msg}", table.name,
                                          "fix the file"))
            unreadable.add(path.resolve())
            continue
        except UnicodeDecodeError as exc:
            problems.append(ConfigProblem(relative, None, f"not UTF-8 text (byte {exc.start}: {exc.reason})",
                                          table.name, "save the file as UTF-8"))
            unreadable.add(path.resolve())
            continue
        except SourceError as exc:
            problems.append(ConfigProblem(relative, exc.line, str(exc), table.name))
            unreadable.add(path.resolve())
            continue
        if table.name not in datasets:
            problems.append(ConfigProblem(
                config.path.name, config.line_of("tables", table.name),
                f"{relative} defines no dataset named '{table.name}' (it defines: {', '.join(datasets) or 'nothing'})",
                table.name, "name the dataset after the table, e.g. @dp.materialized_view(name=...)"))
    for path in _project_sources(config):
        if path.resolve() in unreadable:
            continue
        try:
            datasets = datasets_defined(path)
        except (SyntaxError, UnicodeDecodeError, SourceError, OSError) as exc:
            if path.suffix in (".py", ".sql") and not isinstance(exc, OSError):
                line = getattr(exc, "lineno", None) or getattr(exc, "line", None)
                problems.append(ConfigProblem(path.relative_to(config.root).as_posix(), line,
                                              f"cannot be read: {getattr(exc, 'msg', None) or exc}", None,
                                              "fix the file"))
            continue
        for name, facts in datasets.items():
            if facts.kind not in PUBLISHED or facts.private:
                continue
            if name not in configured and not any(config_table_name(name, c, s) in configured for c, s in namespaces):
                relative = path.relative_to(config.root).as_posix()
                problems.append(ConfigProblem(
                    relative, facts.line, f"dataset '{name}' is defined in code but is not a table in {config.path.name}",
                    None, did_you_mean(name, configured) or _not_configured_hint(name, config)))
    return problems


def _not_configured_hint(name: str, config: ProjectConfig) -> str:
    if len(name_parts(name)) == 1:
        return f"add a table '{name}' to {config.path.name}, make it a view or private, or remove it"
    return (f"'{name}' is outside the catalog and schema config.yml gives its pipeline (top-level or per-pipeline "
            "catalog:/schema:); name it in that schema, or make it a view or private, or remove it")


# Datasets a pipeline publishes to the catalog: the ones that must be tables in config.
PUBLISHED = ("streaming_table", "materialized_view")


def _project_sources(config: ProjectConfig) -> list[Path]:
    """transformations/**/*.py|*.sql and every pipeline's library files, each once, sorted."""
    folder = config.root / "transformations"
    found = {p for suffix in ("*.py", "*.sql") for p in folder.rglob(suffix) if p.is_file()
             and "__pycache__" not in p.parts}
    for key in config.pipelines:
        found.update(config.library_files(key))
    return sorted(found)


def load_bundle(root: Path) -> tuple[Bundle | None, list[ConfigProblem]]:
    """Read databricks.yml and its includes; problems for files that do not parse."""
    bundle = Bundle(root)
    main = root / BUNDLE_FILE
    problems: list[ConfigProblem] = []
    if not main.is_file():
        return None, problems
    paths = [main]
    try:
        doc = load_yaml_with_lines(main.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [ConfigProblem(BUNDLE_FILE, mark.line + 1 if mark else None, f"YAML syntax error: {exc}")]
    except UnicodeDecodeError as exc:
        return None, [ConfigProblem(BUNDLE_FILE, None, f"not UTF-8 text (byte {exc.start}: {exc.reason})",
                                    hint="save the file as UTF-8")]
    if not isinstance(doc, dict):
        return None, [ConfigProblem(BUNDLE_FILE, None, "the bundle must be a mapping of top-level keys",
                                    hint="see databricks.yml in the project template")]
    include = doc.get("include") or []
    if not isinstance(include, list) or not all(isinstance(p, str) for p in include):
        problems.append(ConfigProblem(BUNDLE_FILE, key_line(doc, "include"),
                                      f"`include` must be a list of file patterns, not {include!r}",
                                      hint="e.g. include: [resources/*.yml]"))
        include = []
    for pattern in include:
        paths.extend(sorted(p for p in root.glob(pattern) if p.is_file()))
    for path in paths:
        try:
            data = doc if path == main else load_yaml_with_lines(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problems.append(ConfigProblem(_rel(root, path), mark.line + 1 if mark else None, f"YAML syntax error: {exc}"))
            continue
        except UnicodeDecodeError as exc:
            problems.append(ConfigProblem(_rel(root, path), None, f"not UTF-8 text (byte {exc.start}: {exc.reason})",
                                          hint="save the file as UTF-8"))
            continue
        if not isinstance(data, dict):
            problems.append(ConfigProblem(_rel(root, path), None, "a bundle file must be a mapping of top-level keys"))
            continue
        malformed = _malformed_sections(data)
        if malformed:
            problems += [ConfigProblem(_rel(root, path), key_line(data, key), message, hint=hint)
                         for key, message, hint in malformed]
            continue
        bundle.files[path] = data
        for name in (data.get("variables") or {}):
            bundle.variables[str(name)] = (path, key_line(data["variables"], str(name)))
        for kind, entries in (data.get("resources") or {}).items():
            for key, value in (entries or {}).items():
                bundle.resources.setdefault(kind, {})[str(key)] = (value, path, key_line(entries, str(key)))
    return bundle, problems


def _malformed_sections(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, message, hint) for `variables` and `resources` that are not shaped as bundles need."""
    found = []
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, dict):
        found.append(("variables", f"`variables` must map names to definitions, not {variables!r}",
                      "e.g. variables: {catalog: {default: main}}"))
    resources = data.get("resources")
    if resources is not None and (not isinstance(resources, dict)
                                  or not all(isinstance(v, dict) or v is None for v in resources.values())):
        found.append(("resources", f"`resources` must map kinds (pipelines, jobs, volumes) to named resources, "
                      f"not {resources!r}", "e.g. resources: {pipelines: {my_pipeline: {name: ...}}}"))
    return found


def check_bundle(config: ProjectConfig) -> list[ConfigProblem]:
    """The bundle against config.yml: pipelines, libraries, resource fields, references."""
    bundle, problems = load_bundle(config.root)
    if bundle is None:
        return problems
    problems += _check_resource_fields(bundle)
    problems += _check_references(bundle)
    pipelines = bundle.resources.get("pipelines", {})
    by_name = {value.get("name"): (key, value, path, line) for key, (value, path, line) in pipelines.items()
               if isinstance(value, dict)}
    for pipeline in config.pipelines.values():
        if not config.tables_of(pipeline.key):
            continue
        if pipeline.name not in by_name:
            problems.append(ConfigProblem(
                config.path.name, config.line_of("pipelines", pipeline.key),
                f"pipeline '{pipeline.key}' (deployed as '{pipeline.name}') has no pipeline resource in the bundle",
                None, did_you_mean(pipeline.name, [n for n in by_name if n]) or
                f"add resources.pipelines.{pipeline.key} with name: {pipeline.name} (see resources/pipelines.yml)"))
            continue
        key, value, path, line = by_name[pipeline.name]
        included = _libraries(value, path)
        owners = {config.transformation_path(t).resolve(): t.name for t in config.tables_of(pipeline.key)}
        for file in config.pipeline_files(pipeline.key):
            file = file.resolve()
            if not any(_matches(file, entry) for entry in included):
                problems.append(ConfigProblem(
                    _rel(config.root, path), line,
                    f"pipeline resource '{key}' does not include {_rel(config.root, file)}",
                    owners.get(file), f"add '- file: {{path: {_relpath(file, path.parent)}}}' to its libraries"))
        problems += _check_settings(config, pipeline.key, key, value, path, line)
    return problems + _check_job_selections(config, bundle)


_PIPELINE_REF = re.compile(r"^\$\{resources\.pipelines\.([A-Za-z0-9_-]+)\.id\}$")


def _check_job_selections(config: ProjectConfig, bundle: Bundle) -> list[ConfigProblem]:
    """A job task refreshing a subset (`pipeline_task.refresh_selection` or
    `full_refresh_selection`) names tables config.yml gives that pipeline."""
    pipelines = bundle.resources.get("pipelines", {})
    problems = []
    for job_key, (job, path, line) in bundle.resources.get("jobs", {}).items():
        for task in (job.get("tasks") or []) if isinstance(job, dict) else []:
            pipeline_task = task.get("pipeline_task") if isinstance(task, dict) else None
            if not isinstance(pipeline_task, dict):
                continue
            ref = _PIPELINE_REF.match(str(pipeline_task.get("pipeline_id", "")))
            resource = pipelines.get(ref.group(1)) if ref else None
            name = resource[0].get("name") if resource and isinstance(resource[0], dict) else None
            pipeline = next((p for p in config.pipelines.values() if p.name == name), None)
            if pipeline is None:
                continue  # an unresolved reference is reported by _check_references
            tables = {t.name for t in config.tables_of(pipeline.key)}
            for field_name in ("refresh_selection", "full_refresh_selection"):
                selection = pipeline_task.get(field_name) or []
                if not isinstance(selection, list):
                    continue
                for table in selection:
                    if isinstance(table, str) and not _is_reference(table) and table not in tables:
                        problems.append(ConfigProblem(
                            _rel(config.root, path), key_line(task, field_name) or line,
                            f"job '{job_key}' task '{task.get('task_key')}' {field_name} names '{table}', which is "
                            f"not a table of pipeline '{pipeline.key}' in config.yml", None,
                            did_you_mean(table, sorted(tables)) or f"tables of '{pipeline.key}': {', '.join(sorted(tables))}"))
    return problems


def _check_settings(config: ProjectConfig, pipeline_key: str, key: str, resource: dict[Any, Any], path: Path,
                    line: int | None) -> list[ConfigProblem]:
    """The resource deploys the configuration, catalog and schema config.yml gives the pipeline
    (values that are bundle variables are taken as set where the bundle sets them)."""
    problems = []
    where = _rel(config.root, path)
    deployed = resource.get("configuration") or {}
    deployed = deployed if isinstance(deployed, dict) else {}
    for name, wanted in config.pipelines[pipeline_key].configuration.items():
        if name not in deployed:
            problems.append(ConfigProblem(where, key_line(resource, "configuration", line),
                                          f"pipeline resource '{key}' has no configuration '{name}' (config.yml sets it)",
                                          None, f"add '{name}: \"{wanted}\"' under its configuration:"))
        elif not _is_reference(deployed[name]) and str(deployed[name]) != wanted:
            problems.append(ConfigProblem(where, key_line(deployed, name, line),
                                          f"pipeline resource '{key}' sets configuration '{name}' to "
                                          f"{deployed[name]!r}, config.yml to {wanted!r}",
                                          None, "make them the same, so both engines run with one value"))
    namespace: tuple[tuple[str, str | None], ...] = (("catalog", config.catalog_of(pipeline_key)),
                                                     ("schema", config.schema_of(pipeline_key)))
    for part, target in namespace:
        actual = resource.get(part) if part == "catalog" else resource.get("schema", resource.get("target"))
        if target and isinstance(actual, str) and not _is_reference(actual) and actual != target:
            problems.append(ConfigProblem(where, key_line(resource, part, line),
                                          f"pipeline resource '{key}' publishes to {part} '{actual}', config.yml "
                                          f"says '{target}'", None,
                                          f"make them the same: Dagster shows tables as {part} '{target}'"))
    return problems


def _is_reference(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _libraries(resource: dict[Any, Any], path: Path) -> list[tuple[str, Path]]:
    entries = []
    for library in resource.get("libraries") or []:
        for kind in ("file", "notebook"):
            target = (library.get(kind) or {}).get("path") if isinstance(library, dict) else None
            if target:
                entries.append(("file", (path.parent / target).resolve()))
        include = ((library.get("glob") or {}) if isinstance(library, dict) else {}).get("include")
        if include:
            entries.append(("glob", path.parent / include))
    return entries


def _matches(file: Path, entry: tuple[str, Path]) -> bool:
    kind, target = entry
    if kind == "file":
        return file == target
    pattern = str(target.parent.resolve() / target.name)
    return fnmatch.fnmatch(str(file), pattern) or str(file).startswith(pattern.rstrip("*/"))


def resource_fields_checkable() -> bool:
    """Whether databricks-bundles is installed, so resource fields are checked offline."""
    import importlib.util

    try:
        return importlib.util.find_spec("databricks.bundles") is not None
    except ModuleNotFoundError:  # no `databricks` package at all
        return False


def _check_resource_fields(bundle: Bundle) -> list[ConfigProblem]:
    if not resource_fields_checkable():
        return []  # the CLI says so; a library does not print
    from databricks.bundles.jobs import Job
    from databricks.bundles.pipelines import Pipeline
    from databricks.bundles.volumes import Volume

    parsers: dict[str, Callable[[Any], object]] = {
        "pipelines": Pipeline.from_dict, "jobs": Job.from_dict, "volumes": Volume.from_dict,
    }
    problems = []
    for kind, entries in bundle.resources.items():
        parse = parsers.get(kind)
        for key, (value, path, line) in entries.items():
            if parse is None or not isinstance(value, dict):
                continue
            try:
                parse(dict(value))
            except (ValueError, TypeError) as exc:
                problems.append(ConfigProblem(
                    _rel(bundle.root, path), _field_line(value, str(exc)) or line,
                    f"resources.{kind}.{key}: {exc}", None,
                    f"check the field against the Databricks {_RESOURCE_CLASSES[kind]} resource reference"))
    return problems


def _field_line(value: dict[Any, Any], message: str) -> int | None:
    match = re.search(r"field '([^']+)'", message)
    return key_line(value, match.group(1)) if match else None


def _check_references(bundle: Bundle) -> list[ConfigProblem]:
    problems = []
    for path, data in bundle.files.items():
        for text, line in _strings(data):
            for name in _VAR.findall(text):
                if name not in bundle.variables:
                    problems.append(ConfigProblem(
                        _rel(bundle.root, path), line, f"undefined variable ${{var.{name}}}", None,
                        did_you_mean(name, bundle.variables) or "declare it under variables: in databricks.yml"))
            for kind, key in _RESOURCE.findall(text):
                if key not in bundle.resources.get(kind, {}):
                    problems.append(ConfigProblem(
                        _rel(bundle.root, path), line, f"${{resources.{kind}.{key}}} names no resource", None,
                        did_you_mean(key, bundle.resources.get(kind, {})) or f"define resources.{kind}.{key}"))
    return problems


def _strings(node: Any, line: int | None = None) -> list[tuple[str, int | None]]:
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _strings(value, key_line(node, str(key), line))
    elif isinstance(node, list):
        lines = getattr(node, "item_lines", [line] * len(node))
        for value, item_line in zip(node, lines):
            out += _strings(value, item_line)
    elif isinstance(node, str):
        out.append((node, line))
    return out


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _relpath(file: Path, start: Path) -> str:
    import os

    return Path(os.path.relpath(file, start.resolve())).as_posix()
