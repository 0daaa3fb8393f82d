"""Unity Catalog volume paths, Databricks' sample data sets and DBFS paths on the local engine.

A volume path names files of a Unity Catalog volume: `/Volumes/<catalog>/<schema>/<volume>/...`
(also written `dbfs:/Volumes/...` or `file:/Volumes/...`). Locally each volume is a folder of
the home, and so are the workspace's sample data sets (`/databricks-datasets/...`) and the
DBFS root (`dbfs:/...`):

===========================================  ===============================================
path in pipeline code                        local path
===========================================  ===============================================
`/Volumes/<c>/<s>/<v>/<rest>`                `<home>/volumes/<c>/<s>/<v>/<rest>`
`dbfs:/Volumes/<c>/<s>/<v>/<rest>`           the same
`/databricks-datasets/<rest>`                `<home>/databricks-datasets/<rest>`
`dbfs:/databricks-datasets/<rest>`           the same
`dbfs:/<rest>`, `/dbfs/<rest>`               `<home>/dbfs/<rest>`
any other path                               unchanged
===========================================  ===============================================

The local engine ships none of Databricks' sample data sets: a read of a `/databricks-datasets`
or `dbfs:/` path whose local folder or file is missing fails before the run, naming the path
and the local place to put a copy of the files.

The mapping applies to every file read of a run (`spark.read.load`, `spark.readStream.load`
and the `json` / `csv` / `parquet` / `text` readers built on them, Auto Loader's `cloudFiles`,
SQL `read_files` / `cloud_files`) and to `dbutils.fs`; writes are not mapped (pipelines write
tables, not files). Catalog,
schema and volume are kept as written, so `/Volumes/main/sales/raw_data` lands in
`<home>/volumes/main/sales/raw_data/`: put an example's files there before a run. A path
that names `/Volumes` with fewer than three parts (no volume) is refused, as Databricks does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from etl_assets.engines.local.compat.errors import UnsupportedConstructError
from etl_assets.engines.local.home import HOME_ENV_VAR

_PREFIXES = ("dbfs:/Volumes/", "file:/Volumes/", "/Volumes/")
_DATASETS = ("dbfs:/databricks-datasets/", "/dbfs/databricks-datasets/", "/databricks-datasets/")
_DBFS = ("dbfs:/", "/dbfs/")
_GLOB = set("*?[{")


def is_volume_path(path: str) -> bool:
    """Whether `path` names a Unity Catalog volume (`/Volumes/...`)."""
    return isinstance(path, str) and path.startswith(_PREFIXES)


def _home(home: Path | None) -> Path:
    if home is None:
        configured = os.environ.get(HOME_ENV_VAR)
        if not configured:
            raise UnsupportedConstructError(
                f"a /Volumes, /databricks-datasets or dbfs:/ path needs the local home ({HOME_ENV_VAR}), which "
                "the local runner sets")
        home = Path(configured)
    return home


def volumes_root(home: Path | None = None) -> Path:
    """The folder holding the local volumes: `<home>/volumes`."""
    return _home(home) / "volumes"


def require_copy(path: Any, home: Path | None = None) -> None:
    """Refuse a read of a `/databricks-datasets` or `dbfs:/` path whose local copy is missing,
    naming where the files belong (the part of the path before any glob must exist)."""
    for one in path if isinstance(path, (list, tuple)) else [path]:
        if not isinstance(one, str) or is_volume_path(one) or not one.startswith(_DATASETS + _DBFS):
            continue
        mapped = local_path(one, home)
        parts = Path(mapped).parts
        fixed = Path(*parts[:next((i for i, p in enumerate(parts) if _GLOB & set(p)), len(parts))])
        if not fixed.exists():
            raise UnsupportedConstructError(
                f"{one} is read from {mapped} on the local engine, and {fixed} does not exist: the local engine "
                f"has no copy of Databricks' files; put a copy of them at {fixed} (a few files are enough), "
                "or read another path")


def local_path(path: str, home: Path | None = None) -> str:
    """`path` with a volume prefix mapped onto the home's `volumes/` folder; other paths unchanged.

    >>> local_path("/Volumes/main/sales/raw/a.json", Path("/h"))
    '/h/volumes/main/sales/raw/a.json'
    """
    if not isinstance(path, str):
        return path
    for prefixes, folder in ((_DATASETS, "databricks-datasets"), (_DBFS, "dbfs")):
        prefix = next((p for p in prefixes if path.startswith(p)), None)
        if prefix is not None and not is_volume_path(path):
            rest = path[len(prefix):]
            mapped = str(_home(home).joinpath(folder, *[p for p in rest.split("/") if p]))
            return mapped + "/" if rest.endswith("/") and rest else mapped
    if not is_volume_path(path):
        return path
    rest = path[path.index("/Volumes/") + len("/Volumes/"):]
    parts = [p for p in rest.split("/") if p]
    if len(parts) < 3:
        raise UnsupportedConstructError(
            f"{path} names no volume: a volume path is /Volumes/<catalog>/<schema>/<volume>/...")
    mapped = str(volumes_root(home).joinpath(*parts))
    return mapped + "/" if rest.endswith("/") else mapped


def local_paths(path: Any, home: Path | None = None) -> Any:
    """`local_path` over a path or a list of paths (what `load` takes); anything else unchanged."""
    if isinstance(path, str):
        return local_path(path, home)
    if isinstance(path, (list, tuple)):
        return [local_path(p, home) if isinstance(p, str) else p for p in path]
    return path
