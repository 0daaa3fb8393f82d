"""`databricks.sdk.runtime` in local runs: `from databricks.sdk.runtime import spark, dbutils, display`.

Databricks' bundle templates get `spark` this way in pipeline code; on a workspace the module
hands out the notebook's globals. The SDK's own module, away from a workspace, builds a remote
`dbutils` that needs workspace credentials (`default auth: cannot configure default
credentials`) and a Databricks Connect session. In a local run the module is this one instead:

==================  =========================================================================
name                in a local run
==================  =========================================================================
`spark`             the run's Spark session
`dbutils`           the layer's `dbutils` (`fs.ls`, `fs.mkdirs` over the local volume folders)
`display`,          do nothing (a pipeline update has no cell output)
`displayHTML`
`sql`, `table`      `spark.sql`, `spark.table`
`udf`               `pyspark.sql.functions.udf`
`getArgument`       `getArgument(name, default)`: the pipeline configuration value of `name`
`sc`, `sqlContext`  refused with the reason: Spark Connect has no SparkContext
==================  =========================================================================
"""

from __future__ import annotations

import types
from typing import Any

from etl_assets.engines.local.compat import notebook
from etl_assets.engines.local.compat.errors import UnsupportedConstructError

NAME = "databricks.sdk.runtime"
_REFUSED = {
    "sc": "databricks.sdk.runtime.sc is not available on the local engine: the run's session is a Spark Connect "
          "session, which has no SparkContext; use spark (spark.read, spark.sql, spark.conf) instead",
    "sqlContext": "databricks.sdk.runtime.sqlContext is not available on the local engine: use spark.sql and "
                  "spark.table instead",
}


def module(spark: Any, dbutils: Any) -> types.ModuleType:
    """The `databricks.sdk.runtime` module of a local run on `spark`."""
    from pyspark.sql.functions import udf

    runtime = types.ModuleType(NAME, "Databricks' runtime globals in a local run (etl_assets compatibility layer)")

    def getArgument(name: str, defaultValue: str | None = None) -> Any:  # noqa: N802,N803 (Databricks' names)
        """The pipeline configuration value of `name`, or `defaultValue`."""
        return spark.conf.get(name, defaultValue)

    def __getattr__(name: str) -> Any:  # noqa: N807
        if name in _REFUSED:
            raise UnsupportedConstructError(_REFUSED[name])
        raise AttributeError(f"module {NAME!r} has no attribute {name!r}")

    runtime.__dict__.update(
        spark=spark, dbutils=dbutils, sql=spark.sql, table=spark.table, udf=udf, getArgument=getArgument,
        is_local_implementation=True, __getattr__=__getattr__,
        __all__=["spark", "dbutils", "display", "displayHTML", "sql", "table", "udf", "getArgument"],
        **notebook.functions(),
    )
    return runtime
