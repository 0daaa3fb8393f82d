"""What a local update has to do: a table whose inputs did not change since its last refresh is not
recomputed.

Two halves:

- In the pipeline client, `ReadRecorder` sees every flow definition sent to the server and
  records, per dataset, what its query reads (tables, file paths) and whether it is deterministic,
  from the query's plan; file paths are listed at that moment, before any flow runs. The client
  writes this to the file named by `READS_ENV`.
- In the engine, `ChangeTracker` keeps per table what its last successful refresh read, under
  `<home>/changes/<pipeline>.json`: the code and settings digests, each upstream table's commit
  (`tables.table_version`) and each file path's listing, and the table's own commit after the
  refresh. Before the next update, `decide` splits the selection into tables to refresh (with the
  reason) and tables with nothing to do (with the reason).

Never skipped: a full refresh, a pipeline whose `local_engine.skip_unchanged` setting is `false`, a
query with a nondeterministic function (`current_timestamp`, `rand`, `uuid`, a UDF marked
nondeterministic, ...), a read the engine does not track (JDBC and other sources without paths,
files outside the home, tables outside the pipeline's database, SQL text that cannot be parsed),
and a table without a record (first run, or its last update did not complete).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from etl_assets.conventions import is_data_file, name_parts
from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.tables import table_version

if TYPE_CHECKING:
    from etl_assets.project.config import ProjectConfig

READS_ENV = "ETL_ASSETS_READS_FILE"
"""The file the pipeline client writes each dataset's reads to (set by the local runner)."""

SKIP_SETTING = "local_engine.skip_unchanged"
"""Pipeline `configuration` key: `"false"` refreshes every selected table, changed or not."""

_FORMAT = 1

# Spark SQL functions whose result differs from one evaluation to the next.
NONDETERMINISTIC_FUNCTIONS = frozenset({
    "rand", "randn", "random", "uniform", "randstr", "uuid", "shuffle", "current_timestamp", "current_date",
    "current_time", "now", "localtimestamp", "curdate", "monotonically_increasing_id", "spark_partition_id",
    "input_file_name", "input_file_block_start", "input_file_block_length", "reflect", "java_method",
    "try_reflect", "unix_timestamp", "current_timezone",
})
# The local AUTO CDC's own `coalesce(substring_index(input_file_name(), '/', -1), <this>)`, which
# tells the change feed's files apart: its result depends only on the feed's files, whose commit
# is tracked, so this one use of `input_file_name` does not make a query nondeterministic. (The
# literal marks it; a file scan's file name is never null, so it is never the value.)
ENGINE_FILE_NAME_MARK = "etl_assets: the name of the change feed's file"
# Sources that name files: anything else (jdbc, kafka, socket, rate, ...) is not tracked.
_FILE_FORMATS = frozenset({"json", "csv", "parquet", "text", "orc", "avro", "xml", "binaryfile", "cloudfiles"})


# --- What a query reads (in the pipeline client) -------------------------------------------------


@dataclass
class Reads:
    """What one dataset's flows read: table names, file paths (with their listing when recorded),
    and the reasons the engine cannot tell whether the result would change."""

    tables: set[str] = field(default_factory=set)
    paths: dict[str, str] = field(default_factory=dict)  # path -> digest of its listing
    untracked: set[str] = field(default_factory=set)
    nondeterministic: set[str] = field(default_factory=set)

    def merge(self, other: Reads) -> None:
        """Add what `other` reads."""
        self.tables |= other.tables
        self.paths.update(other.paths)
        self.untracked |= other.untracked
        self.nondeterministic |= other.nondeterministic

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (sorted, so equal reads give equal text)."""
        return {"tables": sorted(self.tables), "paths": dict(sorted(self.paths.items())),
                "untracked": sorted(self.untracked), "nondeterministic": sorted(self.nondeterministic)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reads:
        """The reverse of `to_json`."""
        return cls(set(data.get("tables", ())), dict(data.get("paths", {})), set(data.get("untracked", ())),
                   set(data.get("nondeterministic", ())))


def plan_reads(message: Any, reads: Reads | None = None) -> Reads:
    """What a Spark Connect plan (a protobuf message: a relation, an expression, a flow) reads,
    found by walking every field of it."""
    reads = reads if reads is not None else Reads()
    kind = message.DESCRIPTOR.full_name
    if kind == "spark.connect.Read":
        if message.HasField("named_table"):
            reads.tables.add(message.named_table.unparsed_identifier)
        elif message.HasField("data_source"):
            _data_source(message.data_source, reads)
    elif kind == "spark.connect.SQL":
        sql_reads(message.query, reads)
    elif kind == "spark.connect.Expression.UnresolvedFunction":
        if _engine_file_name(message):
            return reads
        if message.function_name.lower() in NONDETERMINISTIC_FUNCTIONS:
            reads.nondeterministic.add(message.function_name.lower())
    elif kind == "spark.connect.Expression.ExpressionString":
        sql_reads(message.expression, reads, expression=True)
    elif kind == "spark.connect.CommonInlineUserDefinedFunction":
        if not message.deterministic:
            reads.nondeterministic.add(f"nondeterministic UDF {message.function_name}")
    elif kind == "spark.connect.CachedRemoteRelation":
        reads.untracked.add("a DataFrame cached on the server")
    for descriptor, value in message.ListFields():
        if descriptor.type != descriptor.TYPE_MESSAGE:
            continue
        if descriptor.message_type.GetOptions().map_entry:
            continue
        repeated = descriptor.is_repeated if hasattr(descriptor, "is_repeated") \
            else descriptor.label == descriptor.LABEL_REPEATED
        values = value if repeated else [value]
        for item in values:
            plan_reads(item, reads)
    return reads


def _engine_file_name(function: Any) -> bool:
    """Whether an unresolved function is the local AUTO CDC's file name of a change feed row."""
    if function.function_name.lower() != "coalesce" or len(function.arguments) != 2:
        return False
    name, mark = function.arguments
    if name.WhichOneof("expr_type") != "unresolved_function" or mark.WhichOneof("expr_type") != "literal":
        return False
    if mark.literal.WhichOneof("literal_type") != "string" or mark.literal.string != ENGINE_FILE_NAME_MARK:
        return False
    split = name.unresolved_function
    if split.function_name.lower() != "substring_index" or len(split.arguments) != 3:
        return False
    source = split.arguments[0]
    return (source.WhichOneof("expr_type") == "unresolved_function"
            and source.unresolved_function.function_name.lower() == "input_file_name"
            and not source.unresolved_function.arguments)


def _data_source(source: Any, reads: Reads) -> None:
    fmt = (source.format or "").lower()
    paths = list(source.paths) + [v for k, v in source.options.items() if k.lower() == "path"]
    if fmt == "cloudfiles":
        fmt = (source.options.get("cloudFiles.format") or "json").lower()
    if (fmt and fmt not in _FILE_FORMATS) or not paths or source.predicates:
        reads.untracked.add(f"a {fmt or 'data source'} read")
        return
    for path in paths:
        reads.paths[path] = ""


def sql_reads(text: str, reads: Reads, expression: bool = False) -> Reads:
    """What SQL text reads (its tables, minus its CTEs) and its nondeterministic functions, parsed
    with sqlglot's Spark dialect; text it cannot parse is untracked."""
    import sqlglot
    from sqlglot import expressions as exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(text, read="spark")
    except SqlglotError:
        reads.untracked.add("SQL the engine cannot parse")
        return reads
    if tree is None:
        return reads
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        if isinstance(node, exp.Table) and not expression:
            parts = [p.name for p in node.parts]
            if isinstance(node.this, exp.Identifier) and len(parts) == 1 and parts[0].lower() in ctes:
                continue
            if not isinstance(node.this, exp.Identifier):
                reads.untracked.add(f"a table function in SQL ({node.sql(dialect='spark')[:60]})")
                continue
            reads.tables.add(".".join(parts))
        elif isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in NONDETERMINISTIC_FUNCTIONS:
                reads.nondeterministic.add(name)
    return reads


def file_listing(path: str) -> tuple[Path | None, str]:
    """The local folder or file a read path names, and a digest of the data files there (names,
    sizes, modification times): a new, changed or deleted file changes it. (None, "") for a path
    that is not local."""
    parsed = urlparse(path)
    if parsed.scheme not in ("", "file"):
        return None, ""
    local = unquote(parsed.path) if parsed.scheme else path
    # A glob reads what its folder holds: list the longest part without wildcards.
    parts = Path(local).parts
    plain = [p for p in parts[: next((i for i, p in enumerate(parts) if any(c in p for c in "*?[{")), len(parts))]]
    target = Path(*plain) if plain else Path(local)
    digest = hashlib.sha256()
    if target.is_file():
        stat = target.stat()
        digest.update(f"{target.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    elif target.is_dir():
        for item in sorted(target.rglob("*")):
            relative = item.relative_to(target)
            if item.is_file() and all(is_data_file(part) for part in relative.parts):
                stat = item.stat()
                digest.update(f"{relative.as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    else:
        digest.update(b"absent")
    return target, digest.hexdigest()


class ReadRecorder:
    """Records what each dataset of a pipeline reads as its flows are defined (in the pipeline
    client): wraps the registry's Spark Connect client and looks at each command it sends.

    >>> recorder = ReadRecorder.attach(registry)  # doctest: +SKIP
    >>> recorder.save()  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self.datasets: dict[str, Reads] = {}
        self.views: set[str] = set()
        self.whole: set[str] = set()  # reasons that concern every dataset of the pipeline

    @classmethod
    def attach(cls, registry: Any) -> ReadRecorder:
        """A recorder seeing every command `registry` (a `SparkConnectGraphElementRegistry`) sends."""
        recorder = cls()
        client = registry._client
        send = client.execute_command

        def execute_command(command: Any, *args: Any, **kwargs: Any) -> Any:
            recorder.command(command)
            return send(command, *args, **kwargs)

        registry._client = _ClientView(client, execute_command)
        return recorder

    def command(self, command: Any) -> None:
        """Note what one pipeline command defines and reads."""
        if not command.HasField("pipeline_command"):
            return
        pipeline = command.pipeline_command
        which = pipeline.WhichOneof("command_type")
        if which == "define_output":
            import pyspark.sql.connect.proto as pb2

            if pipeline.define_output.output_type == pb2.OutputType.TEMPORARY_VIEW:
                self.views.add(pipeline.define_output.output_name)
        elif which == "define_flow":
            flow = pipeline.define_flow
            reads = self.datasets.setdefault(flow.target_dataset_name, Reads())
            if flow.HasField("relation_flow_details"):
                plan_reads(flow.relation_flow_details.relation, reads)
            elif flow.HasField("auto_cdc_flow_details"):
                details = flow.auto_cdc_flow_details
                reads.tables.add(details.source)
                plan_reads(details, reads)
            else:
                reads.untracked.add("a flow of a kind the engine does not know")
        elif which == "define_sql_graph_elements":
            self.whole.add("SQL graph elements defined on the server")

    def save(self, path: str | None = None) -> None:
        """Write the reads (file paths listed now, before any flow runs) to `path`, by default the
        file `READS_ENV` names; nothing when neither is set."""
        target = path or os.environ.get(READS_ENV)
        if not target:
            return
        for reads in self.datasets.values():
            for read_path in list(reads.paths):
                reads.paths[read_path] = file_listing(read_path)[1]
        data = {"format": _FORMAT, "views": sorted(self.views), "whole": sorted(self.whole),
                "datasets": {name: reads.to_json() for name, reads in sorted(self.datasets.items())}}
        _write_json(Path(target), data)


class _ClientView:
    """The Spark Connect client with one method replaced."""

    def __init__(self, client: Any, execute_command: Any):
        self._wrapped = client
        self.execute_command = execute_command

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


def reads_file(home: LocalHome, pipeline: str) -> Path:
    """Where the pipeline client of an update of `pipeline` writes its datasets' reads."""
    return home.root / "changes" / f"{pipeline}.reads.json"


# --- What an update has to do (in the engine) ----------------------------------------------------


@dataclass
class Decision:
    """The selection split in two, each table with its reason."""

    run: dict[str, str] = field(default_factory=dict)
    unchanged: dict[str, str] = field(default_factory=dict)


class ChangeTracker:
    """Per table of one pipeline, what its last successful refresh read; decides what an update
    of a selection has to do.

    Args:
        config: the project.
        home: the local state folder.
        pipeline: the pipeline key.
    """

    def __init__(self, config: ProjectConfig, home: LocalHome, pipeline: str):
        self.config = config
        self.home = home
        self.pipeline = pipeline
        self.root = home.root / "changes"
        self.records_path = self.root / f"{pipeline}.json"
        self.reads_path = reads_file(home, pipeline)

    # records

    def records(self) -> dict[str, Any]:
        """Table -> its record (empty when none is kept or the file is unreadable)."""
        try:
            data = json.loads(self.records_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return data.get("tables", {}) if data.get("format") == _FORMAT else {}

    def _save(self, records: Mapping[str, Any]) -> None:
        _write_json(self.records_path, {"format": _FORMAT, "tables": dict(sorted(records.items()))})

    def forget(self, tables: Iterable[str]) -> None:
        """Drop the records of tables an update is about to write: until it completes them, their
        next update recomputes them (an interrupted or failed update leaves no record)."""
        records = self.records()
        kept = {t: r for t, r in records.items() if t not in set(tables)}
        if kept != records:
            self._save(kept)
        self.reads_path.unlink(missing_ok=True)

    # digests

    def enabled(self) -> bool:
        """Whether the pipeline lets unchanged tables be skipped (its `local_engine.skip_unchanged`)."""
        pipeline = self.config.pipelines[self.pipeline]
        value = {**pipeline.spark_conf, **pipeline.configuration}.get(SKIP_SETTING, "true")
        return value.strip().lower() not in ("false", "0", "no", "off")

    def settings_digest(self, table: str) -> str:
        """The pipeline's settings, the table's config entry and the engine's own code."""
        from etl_assets.engines.local.spec import RUN_DEFAULTS

        pipeline = self.config.pipelines[self.pipeline]
        settings = {
            "configuration": {**RUN_DEFAULTS, **pipeline.spark_conf, **pipeline.configuration},
            "namespace": self.config.namespace_of(self.pipeline),
            "home": str(self.home.root),
            "table": self.config.table(table).model_dump(mode="json"),
            "engine": _engine_digest(),
        }
        return _digest(json.dumps(settings, sort_keys=True, default=str).encode())

    def code_digest(self, table: str) -> str:
        """The table's file and every pipeline file that may shape its query: all but the files
        defining only other tables of config (helpers, views, shared libraries, files whose
        datasets cannot be told), and the Python modules beside them (what they may import)."""
        from etl_assets.translation.sources import datasets_defined

        own = self.config.transformation_path(table).resolve()
        others = {t.name for t in self.config.tables_of(self.pipeline) if t.name != table}
        digest = hashlib.sha256()
        folders: set[Path] = set()
        for path in self.config.pipeline_files(self.pipeline):
            resolved = path.resolve()
            folders.add(resolved.parent)
            if resolved != own:
                try:
                    defined = set(datasets_defined(resolved))
                except Exception:  # noqa: BLE001 (a file that cannot be read is hashed whole)
                    defined = set()
                if defined and defined <= others:
                    continue
            digest.update(f"{resolved}\n".encode() + _file_bytes(resolved) + _environment_read(resolved))
        pipeline_files = {p.resolve() for p in self.config.pipeline_files(self.pipeline)}
        for folder in sorted(folders):
            for helper in sorted(folder.glob("*.py")):
                if helper.resolve() not in pipeline_files:
                    digest.update(f"{helper}\n".encode() + _file_bytes(helper) + _environment_read(helper))
        return digest.hexdigest()

    # deciding

    def decide(self, selected: Sequence[str], full_refresh: bool,
               upstream: Mapping[str, Iterable[str]]) -> Decision:
        """Which of `selected` (in execution order) must be refreshed, and why; the rest have
        nothing to do. `upstream` is the config graph, for tables refreshed in this update."""
        decision = Decision()
        if full_refresh or not self.enabled():
            why = "full refresh" if full_refresh else f"skipping unchanged tables is off ({SKIP_SETTING}: false)"
            decision.run = dict.fromkeys(selected, why)
            return decision
        records = self.records()
        for table in selected:
            record = records.get(table)
            refreshed_up = [u for u in upstream.get(table, ()) if u in decision.run]
            decision_reason = (self._reason(table, record) if not refreshed_up
                               else f"upstream {refreshed_up[0]} is refreshed in this update")
            if decision_reason is None:
                decision.unchanged[table] = (
                    f"no input changed since its refresh of {record['refreshed_at']}"  # type: ignore[index]
                    " (upstream commits, files, code and settings)")
            else:
                decision.run[table] = decision_reason
        return decision

    def _reason(self, table: str, record: Mapping[str, Any] | None) -> str | None:
        """Why `table` must be refreshed, or None when nothing changed."""
        if record is None:
            return "no earlier completed refresh is recorded"
        if record.get("nondeterministic"):
            return f"its query is not deterministic ({', '.join(record['nondeterministic'])})"
        if record.get("untracked"):
            return f"it reads what the engine does not track ({', '.join(record['untracked'])})"
        if record.get("code") != self.code_digest(table):
            return "its code changed"
        if record.get("settings") != self.settings_digest(table):
            return "its settings changed (pipeline configuration, config entry or engine)"
        if record.get("version") != table_version(self.home.table_location(table)):
            return "the table changed since its last refresh (written elsewhere, or put back)"
        for name, version in record.get("tables", {}).items():
            if table_version(self.home.table_location(name)) != version:
                return f"upstream {name} changed"
        for path, listing in record.get("paths", {}).items():
            if file_listing(path)[1] != listing:
                return f"files under {path} changed (new, changed or deleted)"
        return None

    # recording

    def record(self, tables: Iterable[str], datasets: Mapping[str, Sequence[str]], settled: set[str],
               refreshed_at: str) -> list[str]:
        """Keep what each of `tables` read, after an update completed them. `datasets` maps each
        table to the datasets it stands for (itself and its companions); a table not in `settled`
        (it may have started before its inputs were done) gets no record. Returns the tables
        recorded."""
        try:
            data = json.loads(self.reads_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return []
        finally:
            self.reads_path.unlink(missing_ok=True)
        if data.get("format") != _FORMAT:
            return []
        found = {name.lower(): Reads.from_json(r) for name, r in data.get("datasets", {}).items()}
        views = {v.lower() for v in data.get("views", ())}
        whole = set(data.get("whole", ()))
        records = self.records()
        recorded = []
        for table in tables:
            if table not in settled:
                continue
            reads = Reads()
            missing = [d for d in datasets.get(table, [table]) if d.lower() not in found]
            if table.lower() in missing:
                continue  # its flows carry other names: what it read is not known
            for dataset in datasets.get(table, [table]):
                if dataset.lower() in found:
                    reads.merge(self._expanded(dataset.lower(), found, views, set()))
            upstream, untracked = self._tables_read(table, reads.tables)
            records[table] = {
                "refreshed_at": refreshed_at,
                "code": self.code_digest(table),
                "settings": self.settings_digest(table),
                "version": table_version(self.home.table_location(table)),
                "tables": upstream,
                "paths": self._paths_read(reads.paths, untracked),
                "untracked": sorted(reads.untracked | untracked | whole),
                "nondeterministic": sorted(reads.nondeterministic),
            }
            recorded.append(table)
        self._save(records)
        return recorded

    def _expanded(self, name: str, found: Mapping[str, Reads], views: set[str], seen: set[str]) -> Reads:
        """A dataset's reads with the temporary views it reads replaced by what they read."""
        seen.add(name)
        reads = Reads()
        own = found[name]
        reads.merge(Reads(set(), dict(own.paths), set(own.untracked), set(own.nondeterministic)))
        for table in own.tables:
            local = self._local_name(table)
            if local is not None and local in views and local in found:
                if local not in seen:
                    reads.merge(self._expanded(local, found, views, seen))
            else:
                reads.tables.add(table)
        return reads

    def _local_name(self, name: str) -> str | None:
        """The home's table a name read by the pipeline means, or None when it is outside it."""
        from etl_assets.engines.local.compat.names import Names

        catalog, schema = self.config.namespace_of(self.pipeline)
        namespaces = frozenset(self.config.namespace_of(key) for key in self.config.pipelines)
        try:
            local = Names(catalog=catalog, schema=schema, namespaces=namespaces).local(name)
        except ValueError:
            return None
        parts = name_parts(local)
        return parts[0].lower() if len(parts) == 1 else None

    def _tables_read(self, table: str, names: Iterable[str]) -> tuple[dict[str, str | None], set[str]]:
        versions: dict[str, str | None] = {}
        untracked: set[str] = set()
        for name in names:
            local = self._local_name(name)
            if local is None:
                untracked.add(f"table {name}, outside the pipeline's database")
                continue
            version = table_version(self.home.table_location(local))
            if version is None and local != table.lower():
                untracked.add(f"table {name}, which has no commit the engine can follow")
                continue
            versions[local] = version
        return versions, untracked

    def _paths_read(self, paths: Mapping[str, str], untracked: set[str]) -> dict[str, str]:
        kept = {}
        home = self.home.root.resolve()
        for path, listing in paths.items():
            target, _ = file_listing(path)
            if target is None or not target.resolve().is_relative_to(home):
                untracked.add(f"files at {path}, outside the local home")
                continue
            kept[path] = listing
        return kept


class SettledWatcher:
    """Follows an update's events: a table is settled when it read the final data of each of its
    upstream tables refreshed in the same update: it started after they completed, or their
    commit when it started is still their commit at the end.

    Args:
        upstream: table -> the tables it reads (config's graph).
        selected: the tables the update refreshes.
        version_of: a table's current commit (`tables.table_version` of its location).
    """

    def __init__(self, upstream: Mapping[str, Iterable[str]], selected: Sequence[str],
                 version_of: Callable[[str], str | None]):
        self.upstream = {t: [u for u in upstream.get(t, ()) if u in selected] for t in selected}
        self.version_of = version_of
        self.completed: list[str] = []
        self.early: dict[str, dict[str, str | None]] = {}  # table -> its upstreams' commits as it started

    def see(self, event: Any) -> None:
        """Note one engine event."""
        from etl_assets.engines.events import TableCompleted, TableStarted

        if isinstance(event, TableStarted) and event.table in self.upstream:
            waiting = [u for u in self.upstream[event.table] if u not in self.completed]
            if waiting:
                self.early[event.table] = {u: self.version_of(u) for u in waiting}
        elif isinstance(event, TableCompleted):
            self.completed.append(event.table)

    def settled(self) -> set[str]:
        """The completed tables whose record can be kept."""
        return {t for t in self.completed
                if all(self.version_of(u) == seen for u, seen in self.early.get(t, {}).items())}


def unchanged_events(config: ProjectConfig, home: LocalHome, decision: Decision, engine: str) -> Iterator[Any]:
    """The events of tables an update has nothing to do for: a log line saying why, a completion
    whose metadata says the refresh was a no-op (with the table's rows, commit and columns, as
    they stand), and for a table with expectations, results of zero rows checked."""
    from etl_assets.engines.events import COLUMNS, Log, QualityReported, TableCompleted
    from etl_assets.engines.local.tables import columns, count_rows, describe_version

    for table, reason in decision.unchanged.items():
        location = home.table_location(table)
        rows = count_rows(location)
        metadata: dict[str, Any] = {"table_location": location, "full_refresh": False, "engine": engine,
                                    "refresh": "no-op: nothing to do", "refresh_reason": reason}
        version = table_version(location)
        if version is not None:
            metadata["table_commit"] = describe_version(version)
            metadata["table_version"] = version
        found = columns(location)
        if found:
            metadata[COLUMNS] = found
        yield Log(f"{table}: nothing to do, {reason}; {rows if rows is not None else 'unknown'} rows")
        yield TableCompleted(table, row_count=rows, metadata=metadata)
        if config.table(table).expectations:
            yield QualityReported(table, {}, rows_checked=0, metadata={"refresh": "no-op: nothing to do"})


def refreshed(event: Any, decision: Decision) -> Any:
    """A completion of a table the update recomputed, its metadata saying why."""
    from dataclasses import replace

    from etl_assets.engines.events import TableCompleted

    if isinstance(event, TableCompleted) and event.table in decision.run:
        return replace(event, metadata={**event.metadata, "refresh": "recomputed",
                                        "refresh_reason": decision.run[event.table]})
    return event


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staged.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(staged, path)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_ENV_NAMED = re.compile(r"""(?:environ\.get|getenv)\(\s*["']([^"']+)["']|environ\[\s*["']([^"']+)["']\s*\]""")
_ENV_ANY = re.compile(r"\b(?:environ|getenv)\b")


def _environment_read(path: Path) -> bytes:
    """The values of the environment variables a file reads (code can take another shape with
    them): those it names, or the whole environment when it reads one whose name is not written
    out."""
    text = _file_bytes(path).decode("utf-8", "replace")
    mentions = len(_ENV_ANY.findall(text))
    if not mentions:
        return b""
    named = _ENV_NAMED.findall(text)
    if len(named) < mentions:
        return json.dumps(sorted(os.environ.items())).encode()
    names = sorted({a or b for a, b in named})
    return json.dumps({name: os.environ.get(name) for name in names}).encode()


def _file_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b"unreadable"


@lru_cache(maxsize=1)
def _engine_digest() -> str:
    """The code that runs in every pipeline besides the user's: this package's compatibility
    layer and helpers, and the Spark and Python versions."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        spark = version("pyspark")
    except PackageNotFoundError:
        spark = "none"
    package = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256(f"{spark} {sys.version}".encode())
    for folder in (package / "engines" / "local" / "compat", package / "ldp"):
        for path in sorted(folder.rglob("*.py")):
            digest.update(path.name.encode() + _file_bytes(path))
    return digest.hexdigest()


__all__ = ["ChangeTracker", "Decision", "READS_ENV", "ReadRecorder", "Reads", "SKIP_SETTING",
           "SettledWatcher", "file_listing", "plan_reads", "reads_file", "refreshed", "sql_reads",
           "unchanged_events"]
