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
        return self.root / "warehouse"

    @property
    def metastore(self) -> Path:
        return self.root / "metastore"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def conf_dir(self) -> Path:
        return self.root / "conf"

    @property
    def specs(self) -> Path:
        return self.root / "specs"

    def storage(self, pipeline_key: str) -> Path:
        """Checkpoints and pipeline metadata of one pipeline."""
        return self.root / "storage" / pipeline_key

    def table_location(self, table: str) -> Path:
        """Where a managed table's files are (Hive layout in the default database)."""
        return self.warehouse / table.lower()

    def prepare(self) -> None:
        """Create the folders and the Spark defaults every local run reads."""
        for path in (self.warehouse, self.metastore, self.landing, self.conf_dir, self.specs):
            path.mkdir(parents=True, exist_ok=True)
        # Static settings cannot go in the spec's configuration, and pyspark 4.3 drops --conf
        # values past a few: spark-defaults.conf in SPARK_CONF_DIR is read reliably.
        (self.conf_dir / "spark-defaults.conf").write_text(
            "spark.sql.catalogImplementation hive\n"
            f"spark.sql.warehouse.dir {self.warehouse}\n"
            f"spark.driver.extraJavaOptions -Dderby.system.home={self.metastore}\n"
            "spark.sql.shuffle.partitions 4\n"
            "spark.ui.enabled false\n"
        )
