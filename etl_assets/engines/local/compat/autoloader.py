"""Auto Loader (`format("cloudFiles")`) on Spark's file source.

- `cloudFiles.format` names the file format (json, csv, parquet, text, ...); reader options
  that are not Auto Loader's own (`header`, `multiLine`, ...) go to the file source as they are.
- Without a `.schema(...)`, the schema is inferred from the files when the pipeline is defined;
  as Auto Loader does, JSON, CSV and XML columns are strings unless `cloudFiles.inferColumnTypes`
  is true, and `cloudFiles.schemaHints` ("a INT, b DATE") override or add columns. CSV files
  are then read with a header line unless `header` is set ("Auto Loader assumes that files have
  headers when inferring the schema", Databricks' Auto Loader options; with a schema given,
  `header` keeps its default, false). SQL `read_files` is read the same way.
- The rescued data column (`_rescued_data`, or `rescuedDataColumn`) is added when the schema
  is inferred or the option names it. For JSON and CSV it holds the record Spark could not
  parse into the schema (the file source's corrupt record), so `_rescued_data IS NULL` keeps
  meaning "the record matched the schema"; for other formats it is always null.
- `cloudFiles.maxFilesPerTrigger`, `maxBytesPerTrigger` and `maxFileAge` become the file
  source's options; the options about notifications, listing, schema tracking and evolution
  (`schemaLocation`, `schemaEvolutionMode`, `useNotifications`, ...) change nothing here and are
  accepted (the inferred schema is kept in the home between runs as a schema location keeps it,
  `kept_schemas`, and is always the schema of every file in the folder); options whose effect
  cannot be had locally are refused by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from etl_assets.engines.local.compat import kept_schemas
from etl_assets.engines.local.compat.errors import UnsupportedConstructError

_PREFIX = "cloudfiles."
RESCUED = "_rescued_data"
# Options whose effect is the same here or has no meaning locally (no notifications; the schema
# is kept in the home, `kept_schemas`, wherever a schema location points).
_ACCEPTED = {
    "format", "schemalocation", "schemaevolutionmode", "schemahints", "infercolumntypes",
    "usenotifications", "useincrementallisting", "usemanagedfileevents", "backfillinterval",
    "fetchparallelism", "pathrewrites", "resourcetag", "region", "queueurl", "connectionstring",
    "resourcegroup", "subscriptionid", "tenantid", "clientid", "clientsecret", "projectid",
    "subscription", "validateoptions", "allowoverwrites", "usestrictglobber", "partitioncolumns",
    "maxfilespertrigger", "maxbytespertrigger", "maxfileage", "includeexistingfiles", "cleansource",
}
_PASSED_ON = {"maxfilespertrigger": "maxFilesPerTrigger", "maxbytespertrigger": "maxBytesPerTrigger",
              "maxfileage": "maxFileAge"}
_UNTYPED = {"json", "csv", "xml"}


def is_cloud_files(fmt: str | None) -> bool:
    """Whether a reader's format is Auto Loader's."""
    return (fmt or "").lower() == "cloudfiles"


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "(<":
            depth += 1
        elif char in ")>":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [p for p in [*parts, current.strip()] if p]


def _hints(text: str) -> dict[str, str]:
    hints = {}
    for entry in _split_top_level(text):
        name, _, type_text = entry.partition(" ")
        name = name.strip("`")
        if not type_text.strip():
            raise UnsupportedConstructError(
                f"cloudFiles.schemaHints entry '{entry}' has no type: write 'column TYPE', e.g. 'id BIGINT'")
        if "." in name:
            raise UnsupportedConstructError(
                f"cloudFiles.schemaHints entry '{entry}' names a nested field, which the local engine cannot "
                "hint: give the whole column's type (e.g. 'address STRUCT<city: STRING>') or use .schema(...)")
        hints[name] = type_text.strip()
    return hints


def _strings(data_type: Any) -> str:
    """The DDL type of `data_type` with every leaf a string (Auto Loader's untyped inference)."""
    from pyspark.sql.types import ArrayType, MapType, StructType

    if isinstance(data_type, StructType):
        return "struct<" + ", ".join(f"`{f.name}`: {_strings(f.dataType)}" for f in data_type.fields) + ">"
    if isinstance(data_type, ArrayType):
        return f"array<{_strings(data_type.elementType)}>"
    if isinstance(data_type, MapType):
        return f"map<string, {_strings(data_type.valueType)}>"
    return "string"


def load(reader: Any, path: Any, streaming: bool, original_batch_load: Any, side_session: Any,
         home: Path | None = None) -> Any:
    """The DataFrame Auto Loader would give for `reader` (its options and schema) over `path`;
    the schema is inferred on `side_session()`, outside the pipeline's analysis context, and
    kept in `home` between runs (`kept_schemas`)."""
    options: dict[str, str] = dict(reader._options)
    auto = {k[len(_PREFIX):].lower(): v for k, v in options.items() if k.lower().startswith(_PREFIX)}
    passed = {k: v for k, v in options.items() if not k.lower().startswith(_PREFIX) and k.lower() != "rescueddatacolumn"}
    unknown = sorted(k for k in auto if k not in _ACCEPTED)
    if unknown:
        raise UnsupportedConstructError(
            f"Auto Loader option(s) {', '.join('cloudFiles.' + k for k in unknown)} are not known to the local "
            "engine, which reads with Spark's file source: remove them for local runs")
    fmt = auto.get("format")
    if not fmt:
        raise UnsupportedConstructError("format('cloudFiles') needs .option('cloudFiles.format', 'json') "
                                        "(or csv, parquet, text, ...)")
    fmt = fmt.lower()
    if auto.get("includeexistingfiles", "true").lower() == "false":
        raise UnsupportedConstructError(
            "cloudFiles.includeExistingFiles=false cannot be honoured locally (Spark's file source reads the "
            "files already there on its first run): move those files away instead, or remove the option")
    if auto.get("cleansource", "off").lower() != "off":
        raise UnsupportedConstructError(
            "cloudFiles.cleanSource is not supported on the local engine (the local runs never delete or move "
            "landed files): remove the option for local runs")
    for key, target in _PASSED_ON.items():
        if key in auto:
            passed[target] = auto[key]
    rescue_name = next((v for k, v in options.items() if k.lower() == "rescueddatacolumn"), None)
    paths = [path] if isinstance(path, str) else list(path or [])
    if not paths:
        raise UnsupportedConstructError("format('cloudFiles').load() needs the folder of the files to read")

    if _has_plain_subfolders(paths) and not any(k.lower() == "recursivefilelookup" for k in passed):
        # Auto Loader finds the files in subfolders of its path (a writer's `round1/`); Spark's file
        # source reads only `key=value` partition folders, unless asked to look in all of them.
        passed["recursiveFileLookup"] = "true"
    ddl: str
    if reader._schema:
        ddl = reader._schema
        rescue = rescue_name
    else:
        rescue = rescue_name or RESCUED
        if fmt == "csv" and not any(k.lower() == "header" for k in passed):
            passed["header"] = "true"  # Auto Loader assumes a header line when it infers the schema
        sampling = dict(passed)
        if fmt == "csv" and auto.get("infercolumntypes", "false").lower() == "true":
            sampling.setdefault("inferSchema", "true")  # Spark's CSV source infers types only when asked
        if fmt in ("json", "csv"):
            # A malformed line would otherwise add Spark's `_corrupt_record` column to the
            # inferred schema; Auto Loader has only the rescued data column.
            sampling["columnNameOfCorruptRecord"] = rescue
        def read_schema(files: list[str]) -> Any:
            return original_batch_load(side_session().read.format(fmt).options(**sampling), files).schema

        try:
            inferred = kept_schemas.infer(home, fmt, paths, sampling, read_schema)
        except Exception as exc:
            raise UnsupportedConstructError(
                f"Auto Loader could not infer the schema of the {fmt} files in {', '.join(paths)} "
                f"({str(exc).splitlines()[0]}): land at least one file before the first run, or give "
                ".schema(...)") from None
        typed = fmt not in _UNTYPED or auto.get("infercolumntypes", "false").lower() == "true"
        columns = {f.name: (f.dataType.simpleString() if typed else _strings(f.dataType)) for f in inferred.fields}
        for name, type_text in _hints(auto.get("schemahints", "")).items():
            match = next((c for c in columns if c.lower() == name.lower()), name)
            columns[match] = type_text
        columns.pop(rescue, None)
        ddl = ", ".join(f"`{n}` {t}" for n, t in columns.items())
    if rescue:
        if ddl.lstrip().startswith("{"):  # a StructType given as JSON
            from pyspark.sql.types import StructType
            ddl = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in StructType.fromJson(_json(ddl)).fields)
        ddl = f"{ddl}, `{rescue}` string"
        if fmt in ("json", "csv"):
            passed.setdefault("mode", "PERMISSIVE")
            passed["columnNameOfCorruptRecord"] = rescue
    if streaming:
        source = reader._client.readStream.format(fmt).schema(ddl).options(**passed)
        df = source.load(paths[0]) if len(paths) == 1 else _refuse_many(paths)
    else:
        df = original_batch_load(reader._client.read.format(fmt).schema(ddl).options(**passed), paths)
    if rescue and fmt in ("json", "csv"):
        df = _rescue_readable(df, rescue, _first_column(ddl))
    return df


def _has_plain_subfolders(paths: list[str]) -> bool:
    """Whether a local folder among `paths` has a subfolder that is no `key=value` partition
    (names starting with `_` or `.` are skipped, as Spark and Auto Loader skip them)."""
    for path in paths:
        folder = Path(path.removeprefix("file:"))
        if any(c in path for c in "*?[{") or not folder.is_dir():
            continue
        if any(p.is_dir() and "=" not in p.name and not p.name.startswith(("_", ".")) for p in folder.iterdir()):
            return True
    return False


def _first_column(ddl: str) -> str | None:
    text = ddl.strip()
    if text.startswith("`"):
        return text[1:text.index("`", 1)]
    name = text.split(None, 1)[0] if text else ""
    return name.rstrip(":") or None


def _rescue_readable(df: Any, rescue: str, other: str | None) -> Any:
    """The rescued data column, made to read one more column of the file.

    Spark refuses a JSON or CSV query whose only column read is the corrupt record column
    (UNSUPPORTED_FEATURE.QUERY_ONLY_CORRUPT_RECORD_COLUMN), which is what a check of
    `_rescued_data IS NULL` alone asks for. Appending the empty prefix of another column keeps
    that column in the read and the value unchanged."""
    from pyspark.sql import functions as F

    if other is None or other == rescue:
        return df
    empty = F.coalesce(F.substring(F.col(f"`{other}`").cast("string"), 1, 0), F.lit(""))
    return df.withColumn(rescue, F.concat(F.col(f"`{rescue}`"), empty))


def _json(text: str) -> Any:
    import json
    return json.loads(text)


def _refuse_many(paths: list[str]) -> Any:
    raise UnsupportedConstructError(f"a streaming Auto Loader read takes one folder, not {len(paths)}: {paths}")
