"""Analysis inside query functions: `df.columns`, `df.schema`, `df.dtypes`, `df.printSchema()`.

Databricks lets a query function ask a DataFrame for its schema while the pipeline is defined
(the dbdemos fraud and credit pipelines pick columns from `t.columns`); open-source Spark
refuses any analysis there (ATTEMPT_ANALYSIS_IN_PIPELINE_QUERY_FUNCTION), and on a first run
the upstream table does not even exist yet. Here the refused request is answered on the run's
side session (outside the pipeline's analysis context) with the same plan, in which every read
of a dataset of this pipeline is replaced by an empty relation with that dataset's schema: the
schema of the dataset's own query, worked out the same way (upstream first), or the `schema=`
it declares. Reads of other tables resolve against the catalog, as they would on Databricks;
names of this pipeline's datasets inside `spark.sql` text are temporary views of the same empty
relations while the plan is analyzed.

What stays refused: running a query (`collect()`, `count()`, `toPandas()`...) of a pipeline
dataset inside a query function, since its rows do not exist before the run (the error names
the dataset and the fix), and the schema of an AUTO CDC target before its first run unless it
declares `schema=`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from etl_assets.engines.local.compat.errors import UnsupportedConstructError

if TYPE_CHECKING:
    from etl_assets.engines.local.compat.definitions import Definitions

ANALYSIS_REFUSED = "ATTEMPT_ANALYSIS_IN_PIPELINE_QUERY_FUNCTION"
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Analysis:
    """Schemas of a run's datasets and DataFrames, worked out while the pipeline is defined."""

    def __init__(self, definitions: Definitions, side_session: Any) -> None:
        self.definitions = definitions
        self.side_session = side_session
        self.schemas: dict[str, Any] = {}

    def schema(self, df: Any) -> Any:
        """The schema of a Spark Connect DataFrame of the run's session (a `StructType`)."""
        import pyspark.sql.connect.proto as pb2

        plan: Any = pb2.Plan()
        plan.CopyFrom(df._plan.to_proto(df._session.client))
        views: set[str] = set()
        self._substitute(plan.root, views)
        side = self.side_session()
        made = []
        try:
            for name in sorted(views):
                schema = self.dataset_schema(name)
                if schema is not None:
                    side.createDataFrame([], schema).createOrReplaceTempView(name)
                    made.append(name)
            return side.client.schema(plan)
        except UnsupportedConstructError:
            raise
        except Exception as exc:
            missing = [name for name in self.definitions.cdc if name in str(exc)]
            if missing and "TABLE_OR_VIEW_NOT_FOUND" in str(exc):
                raise UnsupportedConstructError(
                    f"the schema of the AUTO CDC target '{missing[0]}' is asked for while the pipeline is defined, "
                    "before its first run made it: declare it with "
                    f"create_streaming_table('{missing[0]}', schema=...), or read its columns by name") from exc
            raise
        finally:
            for name in made:
                side.catalog.dropTempView(name)

    def dataset_schema(self, name: str) -> Any:
        """The schema of the run's dataset `name` (a local name), None for any other table."""
        from pyspark.sql.types import StructType

        definitions = self.definitions
        dataset = definitions.datasets.get(name)
        if dataset is None or (name in definitions.cdc and dataset.schema is None):
            return None  # a table of the catalog, or an AUTO CDC target: as the catalog has it
        if name in self.schemas:
            return self.schemas[name]
        if dataset.schema is not None:
            declared = dataset.schema
            schema = declared if isinstance(declared, StructType) else \
                self.side_session().createDataFrame([], str(declared)).schema
        else:
            schema = self.schema(definitions.frame(name))  # refuses datasets whose schemas need each other
        self.schemas[name] = schema
        return schema

    def _substitute(self, message: Any, views: set[str]) -> None:
        """Replace, in a plan, each read of a dataset of the run by an empty relation of its
        schema; collect the dataset names that SQL text in the plan mentions into `views`."""
        import pyspark.sql.connect.proto as pb2

        if isinstance(message, pb2.Relation):
            kind = message.WhichOneof("rel_type")
            if kind == "read" and message.read.WhichOneof("read_type") == "named_table":
                local = self.definitions.names.local(message.read.named_table.unparsed_identifier)
                schema = self.dataset_schema(local)
                if schema is not None:
                    common = pb2.RelationCommon()
                    common.CopyFrom(message.common)
                    message.Clear()
                    message.common.CopyFrom(common)
                    message.local_relation.schema = schema.json()
                return
            if kind == "sql":
                words = set(_WORD.findall(message.sql.query))
                views |= {name for name in self.definitions.datasets if name in words}
        for descriptor, value in message.ListFields():
            values = value if descriptor.label == descriptor.LABEL_REPEATED else [value]
            for item in values:
                if hasattr(item, "ListFields"):
                    self._substitute(item, views)


# Requests about no plan at all (parsing a DDL type string, as `createDataFrame(rows, "a int")` and
# `udf(returnType="string")` do): the side session answers them as the run's would.
_PLAN_FREE = ("ddl_parse", "json_to_ddl", "spark_version")


def install(analysis: Analysis) -> list[tuple[Any, str, Any]]:
    """Answer the schema requests Spark refuses inside query functions; (class, attribute,
    original) of each patched member."""
    from pyspark.sql.connect.client.core import SparkConnectClient
    from pyspark.sql.connect.dataframe import DataFrame

    original = DataFrame.__dict__["_schema"]
    analyze = SparkConnectClient.__dict__["_analyze"]

    def plan_free(self: Any, method: str, **kwargs: Any) -> Any:
        try:
            return analyze(self, method, **kwargs)
        except Exception as exc:
            if method not in _PLAN_FREE or ANALYSIS_REFUSED not in str(exc):
                raise
            return analyze(analysis.side_session().client, method, **kwargs)

    def schema(self: Any) -> Any:
        if self._cached_schema is None:
            try:
                return original.fget(self)
            except Exception as exc:
                if ANALYSIS_REFUSED not in str(exc):
                    raise
                self._cached_schema = analysis.schema(self)
        return self._cached_schema

    DataFrame._schema = property(schema)  # type: ignore[method-assign,assignment]
    SparkConnectClient._analyze = plan_free  # type: ignore[method-assign]
    return [(DataFrame, "_schema", original), (SparkConnectClient, "_analyze", analyze)]
