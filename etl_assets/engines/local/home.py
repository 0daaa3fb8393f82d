"""ETL_ASSETS_HOME: the one folder holding all local engine state, kept between runs, and the
Spark master its server runs on.

On a cluster (a `spark://`, `k8s://` or `yarn` master) the warm server is the driver and the
executors run on other machines: they read the landing files and write the tables and
checkpoints at the home's paths, so the home must be a folder every node sees at the same
path. The engine's guarantees stand on that folder being a POSIX file system: tables are
snapshotted by hard links before an update (`guard`), runs are kept apart by `flock`
(`locks`), and row counts and commits are read from the files and commit logs there
(`tables`). A Hadoop file system URI (`s3a://`, `hdfs://`, ...) gives none of this, so it is
refused rather than run with those guarantees silently gone; `LocalHome.check_storage` tests
the folder itself.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from etl_assets.errors import ConfigError, ConfigProblem, DataError

HOME_ENV_VAR = "ETL_ASSETS_HOME"
LOCAL_MASTER = "local[*]"
_MASTER = re.compile(r"local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|spark://\S+|k8s://\S+|yarn")
# Settings the engine itself decides: changing them would put the tables where the engine's
# reads, snapshots and locks do not look, or make the driver something other than the server.
_RESERVED = {
    "spark.master": "give the master as the resource's `master` (or ETL_ASSETS_SPARK_MASTER)",
    "spark.submit.deployMode": "the warm server is the driver, so the deploy mode is always client",
    "spark.sql.catalogImplementation": "the local engine keeps its tables in the home's Hive metastore",
    "spark.sql.warehouse.dir": "the tables live under <home>/warehouse; set the home to a shared folder instead",
}
# File systems of one machine's own disks (or memory): executors elsewhere would each write to
# their own, and a job's commit on the driver would find none of their files.
_UNSHARED = {"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "tmpfs", "ramfs", "overlay", "vfat", "exfat"}
_checked: set[tuple[Path, str]] = set()


def home_path(value: str | os.PathLike[str]) -> Path:
    """The folder a configured home names, refusing what the local engine cannot keep state on.

    >>> home_path("/data/etl").as_posix()
    '/data/etl'
    """
    text = os.fspath(value)
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if scheme and scheme.group(1).lower() != "file":
        raise ConfigError([ConfigProblem(
            "local engine", None,
            f"home {text!r} is a {scheme.group(1)}:// URI: the local engine keeps its tables, checkpoints, landing "
            "files, snapshots and locks in a folder of a POSIX file system (it snapshots tables with hard links, "
            "locks runs with flock and reads row counts and commits from the files), and on such a URI none of "
            "that would hold",
            hint="mount storage every node of the cluster sees (NFS, a cluster file system) at the same path on "
                 "each of them, and set the home to that path",
        )])
    return Path(text[len("file://"):] if scheme else text)


def check_spark_settings(master: str, settings: Mapping[str, str]) -> None:
    """Refuse a master the server cannot be the driver of, or settings the engine decides itself.

    >>> check_spark_settings("spark://10.0.0.5:7077", {"spark.executor.memory": "4g"})
    """
    problems = []
    if not _MASTER.fullmatch(master):
        problems.append(ConfigProblem(
            "local engine", None, f"master {master!r} is not a Spark master this engine can be the driver of",
            hint="use local[*] (this machine, the default), spark://HOST:PORT (a standalone cluster), "
                 "k8s://https://HOST:PORT (Kubernetes) or yarn"))
    for key in settings:
        if key in _RESERVED:
            problems.append(ConfigProblem("local engine", None, f"spark_conf sets {key}", hint=_RESERVED[key]))
        elif not key.startswith("spark."):
            problems.append(ConfigProblem(
                "local engine", None, f"spark_conf key {key!r} is not a Spark setting",
                hint="the server's static settings start with spark. (spark.executor.memory, spark.cores.max, ...)"))
    if problems:
        raise ConfigError(problems)


def is_local_master(master: str) -> bool:
    """Whether the master runs the executors inside the server itself (`local`, `local[N]`)."""
    return master == "local" or master.startswith("local[")


def _executors_on_this_machine(master: str) -> bool:
    # A standalone master bound to loopback only has workers of this machine; Kubernetes pods
    # have file systems of their own even on one machine.
    if is_local_master(master) or master.startswith("local-cluster["):
        return True
    hosts = master[len("spark://"):].split(",") if master.startswith("spark://") else []
    return bool(hosts) and all(h.rsplit(":", 1)[0] in ("127.0.0.1", "localhost", "[::1]") for h in hosts)


def file_system_type(path: Path) -> str | None:
    """The type of the file system holding `path` (`ext4`, `nfs4`...), from /proc/self/mounts."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    target, best, kind = path.resolve(), -1, None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = Path(parts[1].replace("\\040", " "))
        if (target == point or point in target.parents) and len(point.parts) > best:
            best, kind = len(point.parts), parts[2]
    return kind


@dataclass(frozen=True)
class LocalHome:
    """Paths of the local state (warehouse, metastore, checkpoints, landing files, specs), and
    the master and static settings (`settings`, executors' memory and cores...) its server
    starts with."""

    root: Path
    master: str = LOCAL_MASTER
    settings: tuple[tuple[str, str], ...] = ()

    @classmethod
    def configured(cls, root: Path, master: str | None = None,
                   settings: Mapping[str, str] | None = None) -> LocalHome:
        """A home on `root` whose server runs on `master` (None: local[*]) with `settings`; both
        checked (`check_spark_settings`)."""
        chosen = (master or LOCAL_MASTER).strip()
        given = dict(settings or {})
        check_spark_settings(chosen, given)
        return cls(root, chosen, tuple(sorted(given.items())))

    @classmethod
    def for_project(cls, project_root: Path, home: str | os.PathLike[str] | None = None) -> LocalHome:
        """`home` if given, else `.etl_assets/` in the project folder. The environment is read
        where a code location or command is made: those pass $ETL_ASSETS_HOME as `home`."""
        return cls(Path(home).resolve() if home else (project_root / ".etl_assets").resolve())

    @property
    def warehouse(self) -> Path:
        """Managed Parquet tables, one folder per table."""
        return self.root / "warehouse"

    @property
    def metastore(self) -> Path:
        """The Derby metastore of the Hive catalog."""
        return self.root / "metastore"

    @property
    def landing(self) -> Path:
        """Raw files the bronze tables read, one folder per source."""
        return self.root / "landing"

    @property
    def conf_dir(self) -> Path:
        """`spark-defaults.conf`, read through SPARK_CONF_DIR."""
        return self.root / "conf"

    @property
    def specs(self) -> Path:
        """The generated pipeline specs, one per pipeline."""
        return self.root / "specs"

    @property
    def connect_discovery(self) -> Path:
        """Where the warm Spark Connect server of this home records its port and token."""
        return self.root / "connect" / "discovery.json"

    def storage(self, pipeline_key: str) -> Path:
        """Checkpoints and pipeline metadata of one pipeline."""
        return self.root / "storage" / pipeline_key

    def checkpoints(self, pipeline_key: str, table: str) -> list[Path]:
        """The streaming checkpoint folders of a table (all its flows), if it has any."""
        root = self.storage(pipeline_key) / "_checkpoints" / "spark_catalog" / "default" / table.lower()
        return [root] if root.is_dir() else []

    @property
    def locks(self) -> Path:
        """Lock files that keep concurrent runs apart (see `etl_assets.engines.local.locks`)."""
        return self.root / "locks"

    def table_location(self, table: str) -> Path:
        """Where a managed table's files are (Hive layout in the default database)."""
        return self.warehouse / table.lower()

    def spark_conf(self) -> dict[str, str]:
        """The static Spark settings that tie a session to this home's warehouse and metastore,
        with the home's own `settings` (their Java options after ours)."""
        conf = self._own_conf()
        for key, value in self.settings:
            conf[key] = f"{conf[key]} {value}" if key == "spark.driver.extraJavaOptions" else value
        return conf

    def _own_conf(self) -> dict[str, str]:
        return {
            "spark.sql.catalogImplementation": "hive",
            "spark.sql.warehouse.dir": str(self.warehouse),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={self.metastore}",
            "spark.sql.shuffle.partitions": "4",
            # Each server would take a UI port (4040 and up) and many servers run out of them.
            "spark.ui.enabled": "false",
        }

    def server_fingerprint(self) -> str:
        """What a server of this home was started with (master and settings), as a digest: a
        server started otherwise is not this configuration's (the settings may hold secrets,
        so only the digest is kept)."""
        text = json.dumps({"master": self.master, "conf": self.spark_conf()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def check_storage(self) -> None:
        """Refuse a home whose file system cannot keep the engine's guarantees: hard links (the
        snapshot guard) and `flock` (the locks), and, on a cluster whose executors run on other
        machines, a home on this machine's own disk. Tested once per folder, master and process."""
        if (self.root, self.master) in _checked:
            return
        kind = file_system_type(self.root)
        if not _executors_on_this_machine(self.master) and kind in _UNSHARED:
            raise DataError(
                f"the home {self.root} is on this machine's own disk ({kind}), but the executors of {self.master} "
                "run on other machines: each would write the tables to its own disk and the tables would come out "
                "incomplete. Nothing was refreshed; put the home on storage every node sees at the same path "
                "(NFS, a cluster file system)"
            )
        probe = self.root / f".storage-probe-{os.getpid()}"
        linked = probe.with_name(probe.name + ".link")
        try:
            probe.write_text("probe")
            linked.unlink(missing_ok=True)
            try:
                os.link(probe, linked)
            except OSError as exc:
                raise DataError(
                    f"the home {self.root} is on a file system without hard links ({exc.strerror}): the local engine "
                    "snapshots each table by hard links before an update, to put it back if the update fails. "
                    "Nothing was refreshed; put the home on a POSIX file system (local disk, NFS)"
                ) from None
            with open(probe, "a") as handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    raise DataError(
                        f"the home {self.root} is on a file system without flock ({exc.strerror}): the local engine "
                        "locks each pipeline and table there so that runs do not corrupt each other's tables. "
                        "Nothing was refreshed; put the home on a file system with locks (local disk, NFS v4)"
                    ) from None
        finally:
            linked.unlink(missing_ok=True)
            probe.unlink(missing_ok=True)
        _checked.add((self.root, self.master))

    def prepare(self) -> None:
        """Create the folders and the Spark defaults every local run reads."""
        for path in (self.warehouse, self.metastore, self.landing, self.conf_dir, self.specs,
                     self.connect_discovery.parent):
            path.mkdir(parents=True, exist_ok=True)
        self.check_storage()
        # Static settings cannot go in the spec's configuration. The server is started with
        # them (`server.ensure_warm_spark`); spark-defaults.conf serves Spark started otherwise.
        # The home's own settings stay out of it: they may hold credentials.
        lines = [f"{k} {v}" for k, v in self._own_conf().items()]
        (self.conf_dir / "spark-defaults.conf").write_text("\n".join(lines) + "\n")
