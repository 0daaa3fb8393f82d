"""The Databricks pipeline API (`dlt`, `pyspark.pipelines` on Databricks) on open-source Spark.

Every definition is collected while the pipeline's files are loaded and registered by
`Definitions.finish`, once all are known: an expectation decorator may sit above or below
`@table`, and a streaming table declared by `create_streaming_table` becomes the local SCD
materialized view when an AUTO CDC flow targets it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from etl_assets.conventions import quality_dataset_name
from etl_assets.engines.local.compat.errors import UnsupportedConstructError
from etl_assets.engines.local.compat.names import Names
from etl_assets.ldp.expectations import Rule, _define_quality, _enforce, rule_flags

_ANALYSIS_REFUSED = "ATTEMPT_ANALYSIS_IN_PIPELINE_QUERY_FUNCTION"

Kind = Literal["table", "materialized_view", "view", "streaming_table"]
_RULES = "__etl_expectations__"


@dataclass
class Dataset:
    """A dataset declared by pipeline code, registered at the end of loading."""

    kind: Kind
    name: str
    func: Callable[[], Any] | None
    comment: str | None = None
    spark_conf: dict[str, str] = field(default_factory=dict)
    partition_cols: list[str] | None = None
    schema: Any = None
    rules: list[Rule] = field(default_factory=list)
    location: Any = None
    private: bool = False


@dataclass
class AppendFlow:
    """An `append_flow` into a streaming table."""

    target: str
    name: str
    func: Callable[[], Any]
    spark_conf: dict[str, str]
    location: Any


@dataclass
class Pending:
    """What `@table`/`@view` returns: a declared dataset that expectation decorators above it extend."""

    dataset: Dataset

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        assert self.dataset.func is not None
        return self.dataset.func(*args, **kwargs)


def _location(stacklevel: int = 3) -> Any:
    from pyspark.pipelines.source_code_location import get_caller_source_code_location
    return get_caller_source_code_location(stacklevel=stacklevel)


def _refuse_if(condition: Any, construct: str, reason: str) -> None:
    if condition:
        raise UnsupportedConstructError(f"{construct} is not supported on the local engine: {reason}")


def _rules_of(target: Any) -> list[Rule]:
    if isinstance(target, Pending):
        return target.dataset.rules
    rules = getattr(target, _RULES, None)
    if rules is None:
        rules = []
        setattr(target, _RULES, rules)
    return rules


def _expectation(action: Literal["warn", "drop", "fail"], many: bool) -> Callable[..., Any]:
    def expect(*args: Any) -> Callable[[Any], Any]:
        if many:
            (expectations,) = args
            if not isinstance(expectations, dict):
                raise UnsupportedConstructError(
                    f"expect_all{'' if action == 'warn' else '_or_' + action}() takes a dict of "
                    "{name: SQL condition}")
            new = [Rule(str(n), str(c), action) for n, c in expectations.items()]
        else:
            description, constraint = args
            new = [Rule(str(description), str(constraint), action)]

        def decorate(target: Any) -> Any:
            # Decorators apply bottom-up: rules listed higher come later, as Databricks evaluates them.
            _rules_of(target).extend(new)
            return target
        return decorate
    return expect


def _column_name(value: Any) -> str:
    if isinstance(value, str):
        return value
    expr = getattr(value, "_expr", None)
    name = getattr(expr, "_unparsed_identifier", None)
    if isinstance(name, str):
        return name
    raise UnsupportedConstructError(f"{value!r}: the local engine takes column names (strings or col('name'))")


def _flags_into(source: Callable[[], Any], rules: list[Rule]) -> Callable[[], Any]:
    return lambda: rule_flags(source(), rules)


class Definitions:
    """The collected definitions of one run and the Databricks API functions adding to them."""

    def __init__(self, spark: Any, names: Names, side_session: Any) -> None:
        self.spark = spark
        self.names = names
        self.side_session = side_session
        self.datasets: dict[str, Dataset] = {}
        self.flows: list[AppendFlow] = []
        self.cdc: dict[str, Callable[[], None]] = {}
        self.companions: dict[str, str] = {}
        self.batch_twins: dict[str, str] = {}
        self.frames: dict[str, Any] = {}
        self.framing: list[str] = []
        # Datasets this run refreshes in full (AUTO CDC targets then recompute from scratch).
        self.full_refresh: set[str] = set()

    # -- decorators and functions of the Databricks API --------------------------------------

    def _declare(self, kind: Kind, name: str | None, func: Callable[[], Any] | None, **details: Any) -> Dataset:
        resolved = self.names.local(name or (func.__name__ if func else ""))
        dataset = Dataset(kind, resolved, func, location=_location(4), **details)
        if func is not None:
            dataset.rules.extend(getattr(func, _RULES, []))
        if resolved in self.datasets:
            raise UnsupportedConstructError(f"dataset '{resolved}' is defined twice")
        self.datasets[resolved] = dataset
        return dataset

    def _dataset_decorator(self, kind: Kind, query_function: Any, name: str | None, comment: str | None,
                           spark_conf: dict[str, str] | None, partition_cols: list[str] | None, schema: Any,
                           path: str | None, row_filter: str | None, api: str, private: bool = False) -> Any:
        _refuse_if(path, f"{api}(path=...)", "tables live in the home's warehouse; remove path for local runs")
        _refuse_if(row_filter, f"{api}(row_filter=...)", "open-source Spark has no row filters; remove it "
                   "for local runs (the filter would not hide any row)")

        def outer(func: Callable[[], Any]) -> Pending:
            return Pending(self._declare(kind, name, func, comment=comment, spark_conf=dict(spark_conf or {}),
                                         partition_cols=partition_cols, schema=schema, private=private))
        return outer(query_function) if query_function is not None else outer

    def table(self, query_function: Any = None, *, name: str | None = None, comment: str | None = None,
              spark_conf: dict[str, str] | None = None, table_properties: dict[str, str] | None = None,
              path: str | None = None, partition_cols: list[str] | None = None,
              cluster_by_auto: bool | None = None, cluster_by: list[str] | None = None, schema: Any = None,
              row_filter: str | None = None, temporary: bool = False, private: bool = False,
              format: str | None = None) -> Any:
        """`@dlt.table`: a streaming table over a streaming query, a materialized view over a batch one."""
        return self._dataset_decorator("table", query_function, name, comment, spark_conf, partition_cols, schema,
                                       path, row_filter, "table", private or temporary)

    def materialized_view(self, query_function: Any = None, *, name: str | None = None,
                          comment: str | None = None, spark_conf: dict[str, str] | None = None,
                          table_properties: dict[str, str] | None = None, path: str | None = None,
                          partition_cols: list[str] | None = None, cluster_by_auto: bool | None = None,
                          cluster_by: list[str] | None = None, schema: Any = None, row_filter: str | None = None,
                          private: bool = False, format: str | None = None) -> Any:
        """`@dp.materialized_view`."""
        return self._dataset_decorator("materialized_view", query_function, name, comment, spark_conf,
                                       partition_cols, schema, path, row_filter, "materialized_view", private)

    def view(self, query_function: Any = None, *, name: str | None = None, comment: str | None = None,
             spark_conf: dict[str, str] | None = None) -> Any:
        """`@dlt.view` / `@dp.temporary_view`."""
        return self._dataset_decorator("view", query_function, name, comment, spark_conf, None, None, None, None,
                                       "view")

    def create_streaming_table(self, name: str, *, comment: str | None = None,
                               spark_conf: dict[str, str] | None = None,
                               table_properties: dict[str, str] | None = None, path: str | None = None,
                               partition_cols: list[str] | None = None, cluster_by_auto: bool | None = None,
                               cluster_by: list[str] | None = None, schema: Any = None,
                               expect_all: dict[str, str] | None = None,
                               expect_all_or_drop: dict[str, str] | None = None,
                               expect_all_or_fail: dict[str, str] | None = None, row_filter: str | None = None,
                               format: str | None = None) -> None:
        """`dlt.create_streaming_table`: a streaming table that flows append to, with expectations."""
        _refuse_if(path, "create_streaming_table(path=...)", "tables live in the home's warehouse; remove path")
        _refuse_if(row_filter, "create_streaming_table(row_filter=...)", "open-source Spark has no row filters")
        dataset = self._declare("streaming_table", name, None, comment=comment, spark_conf=dict(spark_conf or {}),
                                partition_cols=partition_cols, schema=schema)
        for action, chosen in (("warn", expect_all), ("drop", expect_all_or_drop), ("fail", expect_all_or_fail)):
            dataset.rules.extend(Rule(str(n), str(c), action) for n, c in (chosen or {}).items())  # type: ignore[arg-type]

    def append_flow(self, *, target: str, name: str | None = None, comment: str | None = None,
                    spark_conf: dict[str, str] | None = None, once: bool = False) -> Callable[[Any], None]:
        """`@dlt.append_flow`: appends a streaming query to a streaming table.

        `once=True` (a batch append once per full refresh) is refused: open-source Spark 4.3
        rejects one-time flows (DEFINE_FLOW_ONCE_OPTION_NOT_SUPPORTED) and a batch flow beside
        others into one table (MATERIALIZED_VIEW_WITH_MULTIPLE_QUERIES)."""
        _refuse_if(once, f"append_flow(target='{target}', once=True)",
                   "open-source Spark 4.3 has no one-time flows. Land the backfill rows as files that a streaming "
                   "append flow reads, or define them as a materialized view of their own")
        location = _location(3)

        def outer(func: Callable[[], Any]) -> None:
            self.flows.append(AppendFlow(self.names.local(target), name or func.__name__, func,
                                         dict(spark_conf or {}), location))
        return outer

    def read(self, name: str) -> Any:
        """`dlt.read`: a batch read of a dataset or table."""
        return self.spark.read.table(name)

    def read_stream(self, name: str) -> Any:
        """`dlt.read_stream`: a streaming read of a dataset or table."""
        return self.spark.readStream.table(name)

    def create_sink(self, name: str, format: str, options: dict[str, str] | None = None) -> None:
        """`dlt.create_sink` (open-source Spark's own)."""
        from pyspark.pipelines.api import create_sink
        create_sink(name, format, options)

    def foreach_batch_sink(self, *args: Any, **kwargs: Any) -> Any:
        """Refused: open-source Spark Declarative Pipelines has no foreachBatch sinks."""
        raise UnsupportedConstructError("foreach_batch_sink is not supported on the local engine (open-source "
                                        "Spark Declarative Pipelines has no foreachBatch sinks)")

    expect = staticmethod(_expectation("warn", False))
    expect_or_drop = staticmethod(_expectation("drop", False))
    expect_or_fail = staticmethod(_expectation("fail", False))
    expect_all = staticmethod(_expectation("warn", True))
    expect_all_or_drop = staticmethod(_expectation("drop", True))
    expect_all_or_fail = staticmethod(_expectation("fail", True))

    # -- registration ---------------------------------------------------------------------

    def finish(self) -> None:
        """Register everything collected, in the active graph element registry."""
        from pyspark.pipelines.graph_element_registry import get_active_graph_element_registry

        registry = get_active_graph_element_registry()
        for dataset in self.datasets.values():
            self.names.ensure_database(self.side_session, dataset.name)
        with original_api():
            for target, define in self.cdc.items():
                if target not in self.datasets or self.datasets[target].kind != "streaming_table":
                    raise UnsupportedConstructError(
                        f"the AUTO CDC target '{target}' must be declared with create_streaming_table('{target}')")
                if self.datasets[target].rules:
                    raise UnsupportedConstructError(
                        f"expectations on the AUTO CDC target '{target}' are not supported on the local engine: "
                        "declare them on the source dataset instead")
                if any(f.target == target for f in self.flows):
                    raise UnsupportedConstructError(
                        f"'{target}' is an AUTO CDC target and also has append flows: the local engine computes "
                        "an AUTO CDC target from its change feed alone")
                define()
            for dataset in self.datasets.values():
                if dataset.name not in self.cdc:
                    self._register(registry, dataset)
            targets: dict[str, list[AppendFlow]] = {}
            for flow in self.flows:
                targets.setdefault(flow.target, []).append(flow)
            for flows in targets.values():
                self._register_flows(registry, flows)

    def cdc_source(self, name: str) -> str:
        """The dataset an AUTO CDC target reads its changes from, as a batch: `name` itself, or for
        a view of this pipeline whose query streams, a temporary view `<name>__etl_batch` with the
        same query and expectations read as a batch (`readers.batch_reads`).
        Spark refuses a batch read of a streaming view (INCOMPATIBLE_STREAMING_VIEW_READ)."""
        from pyspark.pipelines.flow import Flow
        from pyspark.pipelines.graph_element_registry import get_active_graph_element_registry
        from pyspark.pipelines.output import TemporaryView

        from etl_assets.engines.local.compat.readers import batch_reads

        dataset = self.datasets.get(name)
        if dataset is None or dataset.kind != "view" or dataset.func is None:
            return name
        if name in self.batch_twins:
            return self.batch_twins[name]
        registry: Any = get_active_graph_element_registry()
        func = dataset.func
        if not is_streaming(self.frame(name), registry._client):
            return name
        twin = f"{name}__etl_batch"

        def batch_frame(read: str) -> Any:
            # A view of this pipeline read by this view (a stream of a stream) is its query read as
            # a batch too, with its expectations: Spark refuses a batch read of a streaming view.
            upstream = self.datasets.get(self.names.local(read))
            if upstream is None or upstream.kind != "view" or upstream.func is None or upstream.name == name:
                return None
            return _enforce(upstream.func(), list(upstream.rules))

        with batch_reads(batch_frame):
            df = self._query(registry, twin, func)
        rules = list(dataset.rules)
        registry.register_output(TemporaryView(name=twin, comment=f"{name} read as a batch (local AUTO CDC source)",
                                               source_code_location=dataset.location))
        registry.register_flow(Flow(name=twin, target=twin, spark_conf=dataset.spark_conf,
                                    source_code_location=dataset.location, func=lambda: _enforce(df, rules)))
        self.batch_twins[name] = twin
        return twin

    def frame(self, name: str) -> Any:
        """The DataFrame of the dataset `name`'s query (of a streaming table: the union of its append
        flows'), made once: its schema may be asked for before the dataset is registered."""
        if name in self.framing:
            raise UnsupportedConstructError(
                f"the schemas of {' -> '.join([*self.framing[self.framing.index(name):], name])} depend on each "
                "other while the pipeline is defined: name the columns in the code of one of them")
        if name not in self.frames:
            self.framing.append(name)
            try:
                self.frames[name] = self._frame(name)
            finally:
                self.framing.pop()
        return self.frames[name]

    def _frame(self, name: str) -> Any:
        from pyspark.pipelines.graph_element_registry import get_active_graph_element_registry

        registry = get_active_graph_element_registry()
        dataset = self.datasets[name]
        if dataset.func is not None:
            return self._query(registry, name, dataset.func)
        flows = [flow for flow in self.flows if flow.target == name]
        if not flows:
            raise UnsupportedConstructError(
                f"the schema of '{name}' is asked for while the pipeline is defined, but no query or append flow "
                f"defines it: declare create_streaming_table('{name}', schema=...)")
        frames = [self._flow_frame(registry, flow) for flow in flows]
        df = frames[0]
        for other in frames[1:]:
            df = df.unionByName(other, allowMissingColumns=True)
        return df

    def _flow_frame(self, registry: Any, flow: AppendFlow) -> Any:
        key = f"flow {flow.target} {flow.name}"
        if key not in self.frames:
            self.frames[key] = self._query(registry, flow.name, flow.func)
        return self.frames[key]

    def _query(self, registry: Any, flow_name: str, func: Callable[[], Any]) -> Any:
        from pyspark.pipelines.add_pipeline_analysis_context import add_pipeline_analysis_context
        with add_pipeline_analysis_context(spark=self.spark, dataflow_graph_id=registry._dataflow_graph_id,
                                           flow_name=flow_name):
            try:
                return func()
            except Exception as exc:
                if _ANALYSIS_REFUSED not in str(exc):
                    raise
                raise UnsupportedConstructError(
                    f"the query function of '{flow_name}' asks Spark to run a DataFrame while the pipeline is "
                    f"defined (collect(), count(), first(), toPandas(), ...), which open-source Spark refuses "
                    f"({_ANALYSIS_REFUSED}); its schema (df.columns, df.schema) can be asked for, its rows cannot. "
                    "Compute such values outside the query function (at the top of the file, from tables that "
                    "exist before the run), or express them in the query itself") from exc

    def _register(self, registry: Any, dataset: Dataset) -> None:
        from pyspark.pipelines.flow import Flow
        from pyspark.pipelines.output import MaterializedView, StreamingTable, TemporaryView

        if dataset.kind == "streaming_table":
            registry.register_output(StreamingTable(
                name=dataset.name, comment=dataset.comment, source_code_location=dataset.location,
                table_properties={}, partition_cols=dataset.partition_cols, cluster_by=None,
                schema=dataset.schema, format=None))
            if dataset.rules:
                self.companions[dataset.name] = quality_dataset_name(dataset.name)
                registry.register_output(StreamingTable(
                    name=quality_dataset_name(dataset.name), comment=f"Per-row results of {dataset.name}'s "
                    "expectations (local engine)", source_code_location=dataset.location, table_properties={},
                    partition_cols=None, cluster_by=None, schema=None, format=None))
            return
        assert dataset.func is not None
        func = dataset.func
        df = self.frame(dataset.name)
        streaming = is_streaming(df, registry._client)
        if streaming and dataset.kind == "table" and _aggregates_without_watermark(df, registry._client):
            # A streaming aggregation without a watermark has no append output (Spark refuses it,
            # STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION); its complete output is the aggregate over
            # all its input: the same query read as a batch, a materialized view.
            from etl_assets.engines.local.compat.readers import batch_reads

            with batch_reads():
                df = self._query(registry, dataset.name, func)
            self.frames[dataset.name] = df
            streaming = False
        if dataset.kind == "view":
            output: Any = TemporaryView(name=dataset.name, comment=dataset.comment,
                                        source_code_location=dataset.location)
        else:
            if dataset.kind == "materialized_view" and streaming:
                raise UnsupportedConstructError(
                    f"materialized view '{dataset.name}' reads a stream: use @dlt.table for a streaming table, or "
                    "spark.read instead of spark.readStream")
            kind = StreamingTable if streaming else MaterializedView
            output = kind(name=dataset.name, comment=dataset.comment, source_code_location=dataset.location,
                          table_properties={}, partition_cols=dataset.partition_cols, cluster_by=None,
                          schema=dataset.schema, format=None)
        registry.register_output(output)
        rules = list(dataset.rules)
        registry.register_flow(Flow(name=dataset.name, target=dataset.name, spark_conf=dataset.spark_conf,
                                    source_code_location=dataset.location, func=lambda: _enforce(df, rules)))
        if rules:
            self.companions[dataset.name] = quality_dataset_name(dataset.name)
            _define_quality(dataset.name, func, rules, streaming)

    def _register_flows(self, registry: Any, flows: list[AppendFlow]) -> None:
        """The append flows into one table, as one flow: the streaming union of their queries.

        Open-source Spark's streaming table is a file sink whose commit log is numbered by each
        flow's own batch ids, so a second flow's first batch is taken as already written and
        skipped: its rows are lost while the run succeeds (measured, also with one flow at a time).
        A union reads each source with its own offsets in one query, and loses nothing.
        """
        from pyspark.pipelines.flow import Flow

        first = flows[0]
        target = self.datasets.get(first.target)
        if target is not None and target.kind != "streaming_table":
            raise UnsupportedConstructError(
                f"'{first.target}' is defined by @table and also has append flows, which the local engine cannot "
                f"combine: declare it with create_streaming_table('{first.target}') and make its query an append flow")
        rules = list(target.rules) if target is not None else []
        frames = [self._flow_frame(registry, flow) for flow in flows]
        df = frames[0]
        for other in frames[1:]:
            df = df.unionByName(other, allowMissingColumns=True)
        name = first.name if len(flows) == 1 else first.target
        spark_conf = {k: v for flow in flows for k, v in flow.spark_conf.items()}
        registry.register_flow(Flow(name=name, target=first.target, spark_conf=spark_conf,
                                    source_code_location=first.location, func=lambda: _enforce(df, rules)))
        if rules:
            companion = quality_dataset_name(first.target)
            registry.register_flow(Flow(name=companion, target=companion, spark_conf={},
                                        source_code_location=first.location, func=_flags_into(lambda: df, rules)))


def is_streaming(df: Any, client: Any) -> bool:
    """Whether a Spark Connect DataFrame reads a stream, from its plan (no server round trip)."""
    return _reads_stream(df._plan.plan(client))


def _aggregates_without_watermark(df: Any, client: Any) -> bool:
    """Whether a streaming query aggregates with no watermark anywhere in its plan."""
    kinds: set[str] = set()

    def walk(message: Any) -> None:
        import pyspark.sql.connect.proto as pb2

        if isinstance(message, pb2.Relation):
            kind = message.WhichOneof("rel_type")
            if kind:
                kinds.add(kind)
        for descriptor, value in message.ListFields():
            values = value if descriptor.label == descriptor.LABEL_REPEATED else [value]
            for item in values:
                if hasattr(item, "ListFields"):
                    walk(item)
    walk(df._plan.plan(client))
    return "aggregate" in kinds and "with_watermark" not in kinds


def _reads_stream(message: Any) -> bool:
    for descriptor, value in message.ListFields():
        if descriptor.name == "is_streaming" and value is True:
            return True
        values = value if descriptor.label == descriptor.LABEL_REPEATED else [value]
        if any(hasattr(item, "ListFields") and _reads_stream(item) for item in values):
            return True
    return False


_ORIGINALS: dict[str, Any] = {}


@contextmanager
def original_api() -> Iterator[None]:
    """Open-source `pyspark.pipelines` functions while the layer registers (helpers call them)."""
    import pyspark.pipelines as dp

    current = {name: getattr(dp, name) for name in _ORIGINALS}
    for name, value in _ORIGINALS.items():
        setattr(dp, name, value)
    try:
        yield
    finally:
        for name, value in current.items():
            setattr(dp, name, value)


def remember_original(name: str, value: Any) -> None:
    """Keep the open-source function `name` of `pyspark.pipelines`, replaced by the layer."""
    _ORIGINALS.setdefault(name, value)
