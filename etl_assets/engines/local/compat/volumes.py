"""Unity Catalog volume paths on the local engine.

A volume path names files of a Unity Catalog volume: `/Volumes/<catalog>/<schema>/<volume>/...`
(also written `dbfs:/Volumes/...` or `file:/Volumes/...`). Locally each volume is a folder of
the home:

===========================================  ===============================================
path in pipeline code                        local path
===========================================  ===============================================
`/Volumes/<c>/<s>/<v>/<rest>`                `<home>/volumes/<c>/<s>/<v>/<rest>`
`dbfs:/Volumes/<c>/<s>/<v>/<rest>`           the same
any other path                               unchanged
===========================================  ===============================================

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


def is_volume_path(path: str) -> bool:
    """Whether `path` names a Unity Catalog volume (`/Volumes/...`)."""
    return isinstance(path, str) and path.startswith(_PREFIXES)


def volumes_root(home: Path | None = None) -> Path:
    """The folder holding the local volumes: `<home>/volumes`."""
    if home is None:
        configured = os.environ.get(HOME_ENV_VAR)
        if not configured:
            raise UnsupportedConstructError(
                f"a /Volumes path needs the local home ({HOME_ENV_VAR}), which the local runner sets")
        home = Path(configured)
    return home / "volumes"


def local_path(path: str, home: Path | None = None) -> str:
    """`path` with a volume prefix mapped onto the home's `volumes/` folder; other paths unchanged.

    >>> local_path("/Volumes/main/sales/raw/a.json", Path("/h"))
    '/h/volumes/main/sales/raw/a.json'
    """
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
