"""Auto Loader's inferred schemas, kept between runs as a schema location keeps them.

Inferring the schema of a landing folder reads every file in it, and the folder only grows:
at 10 million raw rows that is tens of seconds at each registration, for a schema that rarely
changes. So the schema inferred over a folder is kept under `<home>/autoloader/<digest>.json`
with the listing it was inferred from (each file's size and modification time). The next
registration lists the folder and:

- the same files: the kept schema, no Spark job;
- only new files: the schema of the new files alone; when each of its columns is already in the
  kept schema with the same type, the kept schema is the schema of every file (Spark merges a
  column's types by name, and equal types merge to themselves), otherwise every file is read
  again, as without a kept schema;
- a file changed or gone, or no kept schema: every file is read.

So the schema is always the one inferred over every file now in the folder. Kept only for
local folders read as they are: a path with a glob, file selection options (`pathGlobFilter`,
`modifiedBefore`, `modifiedAfter`) or `key=value` partition folders is inferred each time.
The kept files are derived data: losing them costs one full inference.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

_FORMAT = 1
_SELECTING = {"pathglobfilter", "modifiedbefore", "modifiedafter"}

Listing = dict[str, list[int]]
"""File path (relative to its read path) -> [size, modification time in ns]."""


def infer(home: Path | None, fmt: str, paths: Sequence[str], options: Mapping[str, str],
          read_schema: Callable[[list[str]], Any]) -> Any:
    """The schema `read_schema(paths)` gives over every file of `paths`, from the kept schema
    where the files allow (see the module); `read_schema` is called with the paths to infer from
    (the folders, or only new files)."""
    listing = _listing(paths, options) if home is not None else None
    if listing is None or home is None:
        return read_schema(list(paths))
    from pyspark.sql.types import StructType

    path = _kept_file(home, fmt, paths, options)
    kept = _read(path)
    schema = None
    if kept is not None:
        old_files, old_schema = kept
        if all(listing.get(name) == stat for name, stat in old_files.items()):
            new = sorted(set(listing) - set(old_files))
            if not new:
                return old_schema
            added = read_schema([_absolute(paths, name) for name in new])
            if _covers(old_schema, added):
                schema = old_schema
    if schema is None:
        schema = read_schema(list(paths))
    if isinstance(schema, StructType):
        _write(path, listing, schema)
    return schema


def _covers(kept: Any, added: Any) -> bool:
    """Whether every column of `added` is in `kept` with the same type."""
    fields = {f.name: f.dataType for f in kept.fields}
    return all(f.name in fields and fields[f.name] == f.dataType for f in added.fields)


def _kept_file(home: Path, fmt: str, paths: Sequence[str], options: Mapping[str, str]) -> Path:
    text = json.dumps({"format": fmt, "paths": [str(_local(p)) for p in paths],
                       "options": sorted((k.lower(), v) for k, v in options.items())})
    return home / "autoloader" / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.json"


def _local(path: str) -> Path:
    return Path(path.removeprefix("file://").removeprefix("file:"))


def _absolute(paths: Sequence[str], name: str) -> str:
    index, _, relative = name.partition("/")
    return str(_local(paths[int(index)]) / relative)


def _listing(paths: Sequence[str], options: Mapping[str, str]) -> Listing | None:
    """Every file Spark's file source reads under `paths` (index/relative path -> size, mtime),
    or None when this cannot be told from a plain listing."""
    lowered = {k.lower(): v for k, v in options.items()}
    if _SELECTING & set(lowered):
        return None
    recursive = lowered.get("recursivefilelookup", "false").lower() == "true"
    listing: Listing = {}
    for index, text in enumerate(paths):
        if any(c in text for c in "*?[{"):
            return None
        root = _local(text)
        if not root.is_dir():
            return None
        for folder, subfolders, files in os.walk(root):
            visible = [d for d in subfolders if not d.startswith(("_", "."))]
            if not recursive and visible:
                return None  # partition folders (or folders Spark would not read): infer as always
            subfolders[:] = visible
            for name in files:
                if name.startswith(("_", ".")):
                    continue
                file = Path(folder, name)
                stat = file.stat()
                listing[f"{index}/{file.relative_to(root).as_posix()}"] = [stat.st_size, stat.st_mtime_ns]
    return listing


def _read(path: Path) -> tuple[Listing, Any] | None:
    from pyspark.sql.types import StructType

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != _FORMAT:
            return None
        return dict(data["files"]), StructType.fromJson(data["schema"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write(path: Path, listing: Listing, schema: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        staged.write_text(json.dumps({"format": _FORMAT, "files": listing, "schema": schema.jsonValue()}),
                          encoding="utf-8")
        os.replace(staged, path)
    except OSError:
        pass  # a schema not kept costs one inference next time
