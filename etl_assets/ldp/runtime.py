"""Where a transformation runs, read from the pipeline configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from etl_assets.conventions import ENGINE_CONF, LANDING_CONF

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


EngineName = Literal["databricks", "local"]
ENGINES: tuple[EngineName, ...] = ("databricks", "local")


def _spark() -> SparkSession:
    from pyspark.sql import SparkSession
    spark = SparkSession.getActiveSession()
    if spark is None:
        raise RuntimeError("no active Spark session: etl_assets.ldp helpers run inside a pipeline")
    return spark


def engine() -> EngineName:
    """`databricks` or `local`, from the pipeline configuration key `etl_assets.engine`."""
    value = _spark().conf.get(ENGINE_CONF, None)
    if value not in ENGINES:
        raise ValueError(
            f"pipeline configuration {ENGINE_CONF}={value!r}: set it to 'databricks' (the bundle "
            "does) or 'local' (the local runner does) so the helpers know which features exist"
        )
    return value


def landing_path(relative: str = "") -> str:
    """The landing folder or volume (configuration `etl_assets.landing_path`), joined with `relative`."""
    root = _spark().conf.get(LANDING_CONF, None)
    if not root:
        raise ValueError(f"pipeline configuration {LANDING_CONF} is not set: point it at the landing folder or volume")
    return f"{root.rstrip('/')}/{relative.strip('/')}" if relative else root
