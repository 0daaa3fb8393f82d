"""ETL_ASSETS_HOME: the one folder holding all local engine state, kept between runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV_VAR = "ETL_ASSETS_HOME"


@dataclass(frozen=True)
class LocalHome:
    """Paths of the local state: warehouse, metastore, checkpoints, landing files, specs."""

    root: Path

    @classmethod
    def for_project(cls, project_root: Path) -> LocalHome:
        """$ETL_ASSETS_HOME if set, else `.etl_assets/` in the project folder."""
        configured = os.environ.get(HOME_ENV_VAR)
        return cls(Path(configured).resolve() if configured else (project_root / ".etl_assets").resolve())

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
        """The static Spark settings that tie a session to this home's warehouse and metastore."""
        return {
            "spark.sql.catalogImplementation": "hive",
            "spark.sql.warehouse.dir": str(self.warehouse),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={self.metastore}",
            "spark.sql.shuffle.partitions": "4",
            # Each server would take a UI port (4040 and up) and many servers run out of them.
            "spark.ui.enabled": "false",
        }

    def prepare(self) -> None:
        """Create the folders and the Spark defaults every local run reads."""
        for path in (self.warehouse, self.metastore, self.landing, self.conf_dir, self.specs,
                     self.connect_discovery.parent):
            path.mkdir(parents=True, exist_ok=True)
        # Static settings cannot go in the spec's configuration. The server is started with
        # them (`server.ensure_warm_spark`); spark-defaults.conf serves Spark started otherwise.
        lines = [f"{k} {v}" for k, v in self.spark_conf().items()]
        (self.conf_dir / "spark-defaults.conf").write_text("\n".join(lines) + "\n")
