"""Reading raw landing files incrementally: Auto Loader on Databricks, the file source locally."""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl_assets.ldp.runtime import _spark, engine, landing_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType


RESCUED = "_rescued_data"


def read_landing(relative_path: str, schema: StructType, format: str = "json") -> DataFrame:
    """A streaming DataFrame over the files under `<landing>/<relative_path>`, with `_rescued_data`.

    On Databricks: Auto Loader (`cloudFiles`) with `schema` as hints and rescued data. Locally:
    the file source with `schema` and the unparseable record kept in `_rescued_data`, so a
    `_rescued_data IS NULL` expectation means the same on both.

    >>> read_landing("customers", CUSTOMER_SCHEMA)     # doctest: +SKIP
    """
    from pyspark.sql.types import StringType, StructField, StructType
    spark = _spark()
    path = landing_path(relative_path)
    if engine() == "databricks":
        hints = ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in schema.fields)
        return (
            spark.readStream.format("cloudFiles")
            .option("cloudFiles.format", format)
            .option("cloudFiles.schemaHints", hints)
            .option("cloudFiles.schemaEvolutionMode", "rescue")
            .option("rescuedDataColumn", RESCUED)
            .load(path)
        )
    with_rescued = StructType([*schema.fields, StructField(RESCUED, StringType(), True)])
    return (
        spark.readStream.format(format)
        .schema(with_rescued)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", RESCUED)
        .load(path)
    )
