"""A minimal `dbutils` for pipeline code on the local engine: `dbutils.fs.ls` and `dbutils.fs.mkdirs`.

Databricks gives pipeline code a `dbutils` global; open-source Spark has none. The local layer
puts this one in the run's builtins, so `dbutils.fs.ls(f"/Volumes/{catalog}/{schema}/raw")`
works as written. Paths go through the volume mapping of `volumes` (`/Volumes/<c>/<s>/<v>/...`
is `<home>/volumes/<c>/<s>/<v>/...`); other local paths and `file:` paths are used as they are.

- `fs.ls(path)` lists a folder (sorted by name) as `FileInfo(path, name, size,
  modificationTime)`: folders' `name` and `path` end with `/` and their size is 0; paths are
  given back as written (under `/Volumes/...` for a volume); listing a missing path raises
  `FileNotFoundError`, as on Databricks; listing a file gives that one file.
- `fs.mkdirs(path)` creates the folder and its parents; returns True.

Any other `dbutils` call (`fs.cp`, `widgets`, `secrets`, `notebook`, ...) raises
`UnsupportedConstructError` naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from etl_assets.engines.local.compat import volumes
from etl_assets.engines.local.compat.errors import UnsupportedConstructError


class FileInfo(NamedTuple):
    """One entry of `dbutils.fs.ls`, as Databricks' `FileInfo`."""

    path: str
    name: str
    size: int
    modificationTime: int

    def isDir(self) -> bool:  # noqa: N802 (Databricks' name)
        """Whether the entry is a folder."""
        return self.name.endswith("/")

    def isFile(self) -> bool:  # noqa: N802 (Databricks' name)
        """Whether the entry is a file."""
        return not self.isDir()


def _unsupported(name: str) -> UnsupportedConstructError:
    return UnsupportedConstructError(
        f"{name} is not available on the local engine, whose dbutils has only dbutils.fs.ls and "
        "dbutils.fs.mkdirs: read configuration with spark.conf.get and files with spark.read, or run on Databricks")


class _Refusing:
    """Attributes not listed raise an error naming the call."""

    _prefix = "dbutils"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise _unsupported(f"{self._prefix}.{name}")


class FileSystem(_Refusing):
    """`dbutils.fs` over local files and the volume mapping."""

    _prefix = "dbutils.fs"

    def __init__(self, home: Path | None = None):
        self._home = home

    def _local(self, path: str) -> Path:
        mapped = volumes.local_path(path, self._home)
        if mapped.startswith("file:"):
            mapped = mapped[len("file:"):]
        if mapped.startswith("dbfs:"):
            raise UnsupportedConstructError(
                f"dbutils.fs on {path}: DBFS paths other than /Volumes have no local meaning; use a /Volumes path")
        return Path(mapped)

    def ls(self, path: str) -> list[FileInfo]:
        """The entries of the folder `path` (or the file itself), sorted by name."""
        local = self._local(path)
        if not local.exists():
            raise FileNotFoundError(f"dbutils.fs.ls: {path} does not exist (locally {local})")
        if local.is_file():
            stat = local.stat()
            return [FileInfo(path, local.name, stat.st_size, int(stat.st_mtime * 1000))]
        base = path if path.endswith("/") else path + "/"
        entries = []
        for child in sorted(local.iterdir(), key=lambda p: p.name):
            stat = child.stat()
            folder = child.is_dir()
            name = child.name + ("/" if folder else "")
            entries.append(FileInfo(base + name, name, 0 if folder else stat.st_size, int(stat.st_mtime * 1000)))
        return entries

    def mkdirs(self, path: str) -> bool:
        """Create the folder `path` and its parents."""
        self._local(path).mkdir(parents=True, exist_ok=True)
        return True


class DBUtils(_Refusing):
    """The `dbutils` global of local runs: only `fs.ls` and `fs.mkdirs`.

    >>> dbutils = DBUtils(Path("/tmp/home"))  # doctest: +SKIP
    >>> [f.name for f in dbutils.fs.ls("/Volumes/main/s/raw_data")]  # doctest: +SKIP
    ['customers/']
    """

    def __init__(self, home: Path | None = None):
        self.fs = FileSystem(home)
