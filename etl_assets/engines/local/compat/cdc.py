"""AUTO CDC on the local engine: `create_auto_cdc_flow` / `apply_changes` and their snapshot forms.

The target declared with `create_streaming_table` becomes a materialized view that applies
the new change rows to the kept target (`cdc_incremental`), or is recomputed from the whole
change feed (`etl_assets.ldp.cdc`, the same result as applying the events in sequence order).
A change feed that is a streaming view of the pipeline (a `temporary_view` over
`spark.readStream`) is read through a batch twin of that view with the same query and
expectations (`Definitions.cdc_source`), and recomputed in full each run. From snapshots:

- SCD type 1 is the latest snapshot: the table named by `source`, or the last one the
  snapshot function returns;
- SCD type 2 needs every snapshot in order, which only a snapshot function can give: each
  snapshot becomes upserts at its version plus deletes of the keys it no longer has, and the
  history is computed from those events. A table `source` keeps only its current state (the
  snapshots it had on earlier runs are gone), so SCD type 2 from a table is refused.

A target from a snapshot function keeps the last version it applied (`cdc_incremental`): the
next run asks the function only for the snapshots after it and applies them to the kept target.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from etl_assets.engines.local.compat.cdc_incremental import (
    SNAPSHOTS,
    Plan,
    expect_state,
    incremental_query,
    kept_version,
    plan,
    snapshot_plan,
)
from etl_assets.engines.local.compat.definitions import Definitions, _column_name
from etl_assets.engines.local.compat.errors import UnsupportedConstructError
from etl_assets.ldp.cdc import LocalTarget

_SEQ = "__etl_snapshot_version"
_DEL = "__etl_snapshot_delete"
_MAX_SNAPSHOTS = 100_000


def _names(values: Sequence[Any] | None) -> list[str] | None:
    return None if values is None else [_column_name(v) for v in values]


def create_auto_cdc_flow(defs: Definitions) -> Callable[..., None]:
    """`dlt.create_auto_cdc_flow` (and `apply_changes`) onto `etl_assets.ldp.cdc.auto_cdc`."""

    def create_auto_cdc_flow(target: str, source: str, keys: Sequence[Any], sequence_by: Any,
                             ignore_null_updates: bool = False, apply_as_deletes: Any = None,
                             apply_as_truncates: Any = None, column_list: Sequence[Any] | None = None,
                             except_column_list: Sequence[Any] | None = None, stored_as_scd_type: int | str = 1,
                             track_history_column_list: Sequence[Any] | None = None,
                             track_history_except_column_list: Sequence[Any] | None = None,
                             name: str | None = None, once: bool = False) -> None:
        """Define `target` (declared with create_streaming_table) as the SCD table of the change feed `source`."""
        from etl_assets.ldp.cdc import _check, auto_cdc

        local_target, local_source = defs.names.local(target), defs.names.local(source)
        options: dict[str, Any] = dict(
            keys=_names(keys) or [], column_list=_names(column_list), except_column_list=_names(except_column_list),
            track_history_column_list=_names(track_history_column_list),
            track_history_except_column_list=_names(track_history_except_column_list),
        )
        _check(stored_as_scd_type=stored_as_scd_type, apply_as_truncates=apply_as_truncates, **options)
        if local_target in defs.cdc:
            raise UnsupportedConstructError(
                f"'{target}' has a second AUTO CDC flow: the local engine computes an AUTO CDC target from one "
                "change feed; union the sources into one view and apply that")

        def define() -> None:
            comment = defs.datasets[local_target].comment
            auto_cdc(target=local_target, source=defs.cdc_source(local_source), sequence_by=sequence_by,
                     apply_as_deletes=apply_as_deletes, apply_as_truncates=apply_as_truncates,
                     stored_as_scd_type=stored_as_scd_type, ignore_null_updates=ignore_null_updates,
                     comment=comment, **options)
        defs.cdc[local_target] = define
    return create_auto_cdc_flow


def local_targets(defs: Definitions) -> Callable[[LocalTarget], bool]:
    """What `etl_assets.ldp.auto_cdc` (the helper of `create_auto_cdc_flow`, and of pipeline code)
    calls to define a local target while the layer is installed."""
    def define(target: LocalTarget) -> bool:
        define_target(defs, target)
        return True
    return define


def define_target(defs: Definitions, target: LocalTarget) -> None:
    """Define an AUTO CDC target; a completed run keeps its state (`cdc_incremental`): each run
    applies the new change rows to the kept target when it can, and recomputes the whole target
    otherwise."""
    from pyspark import pipelines as dp
    from pyspark.pipelines.logging_utils import log_with_curr_timestamp

    def feed_is_table() -> bool:
        dataset = defs.datasets.get(target.source)
        return (dataset is None or dataset.kind != "view") and target.source not in defs.batch_twins.values()

    def query() -> Any:
        full = bool({target.target, target.source} & defs.full_refresh)
        chosen = plan(defs.names.home, target.target, target.source, target.keys, target.column_list,
                      target.except_column_list, full) if feed_is_table() else \
            Plan(False, f"the change feed '{target.source}' is a view")
        if feed_is_table() and defs.names.home is not None and "." not in target.source:
            expect_state(defs.names.home, target.target, target.source)
        if chosen.incremental:
            log_with_curr_timestamp(f"AUTO CDC target '{target.target}': applying the new change rows of "
                                    f"'{target.source}' to the kept target")
            return incremental_query(defs.spark, chosen, target.source, target.keys, target.apply_as_truncates,
                                     target.recompute)
        log_with_curr_timestamp(f"AUTO CDC target '{target.target}': recomputed from the whole change feed "
                                f"({chosen.reason})")
        return target.recompute(defs.spark.read.table(target.source))

    dp.materialized_view(name=target.target, comment=target.comment)(query)


def create_auto_cdc_from_snapshot_flow(defs: Definitions) -> Callable[..., None]:
    """`dlt.create_auto_cdc_from_snapshot_flow` (and `apply_changes_from_snapshot`)."""

    def create_auto_cdc_from_snapshot_flow(target: str, source: Any, keys: Sequence[Any],
                                           stored_as_scd_type: int | str = 1,
                                           track_history_column_list: Sequence[Any] | None = None,
                                           track_history_except_column_list: Sequence[Any] | None = None) -> None:
        """Define `target` (declared with create_streaming_table) from snapshots of a table or a function."""
        from etl_assets.ldp.cdc import _check

        key_names = _names(keys) or []
        tracked, untracked = _names(track_history_column_list), _names(track_history_except_column_list)
        scd_type = _check(stored_as_scd_type=stored_as_scd_type, keys=key_names, apply_as_truncates=None,
                          column_list=None, except_column_list=None, track_history_column_list=tracked,
                          track_history_except_column_list=untracked)
        local_target = defs.names.local(target)
        if isinstance(source, str) and scd_type == 2:
            raise UnsupportedConstructError(
                f"create_auto_cdc_from_snapshot_flow(target='{target}', source='{source}', stored_as_scd_type=2): "
                "the local engine recomputes the target each run and a table keeps only its current snapshot, so "
                "the history cannot be computed honestly. Pass a function source (latest_version -> (DataFrame, "
                "version) or None) returning every snapshot in order, or use SCD type 1")
        if not isinstance(source, str) and not callable(source):
            raise UnsupportedConstructError("create_auto_cdc_from_snapshot_flow: source is a table name or a function")
        if local_target in defs.cdc:
            raise UnsupportedConstructError(f"'{target}' has a second AUTO CDC flow")

        def define() -> None:
            from pyspark import pipelines as dp

            # The snapshot function is called here, not inside the query function: Databricks
            # lets it run queries (`spark.sql(...).collect()` for the next version), which
            # open-source Spark refuses inside a query function.
            result = None if isinstance(source, str) else snapshot_result()

            def query() -> Any:
                if result is None:
                    return defs.spark.read.table(source)
                return result

            dp.materialized_view(name=local_target, comment=defs.datasets[local_target].comment)(query)

        def snapshot_result() -> Any:
            from pyspark.pipelines.logging_utils import log_with_curr_timestamp

            home = defs.names.home
            chosen = snapshot_plan(home, local_target, local_target in defs.full_refresh)
            if chosen.incremental:
                assert chosen.base is not None
                kept = defs.spark.read.parquet(str(chosen.base))
                snapshots = _snapshots(source, target, after=chosen.version)
                log_with_curr_timestamp(f"AUTO CDC target '{local_target}': applying {len(snapshots)} new snapshot(s) "
                                        f"after version {chosen.version!r} to the kept target")
                last = snapshots[-1][1] if snapshots else chosen.version
                if not snapshots:
                    result = kept
                elif scd_type == 1:
                    result = snapshots[-1][0]
                else:
                    result = _history(snapshots, key_names, tracked, untracked, kept=kept)
            else:
                log_with_curr_timestamp(f"AUTO CDC target '{local_target}': recomputed from every snapshot "
                                        f"({chosen.reason})")
                snapshots = _snapshots(source, target)
                last = snapshots[-1][1]
                result = snapshots[-1][0] if scd_type == 1 else _history(snapshots, key_names, tracked, untracked)
            if home is not None and kept_version(last):
                expect_state(home, local_target, SNAPSHOTS, last)
            return result

        defs.cdc[local_target] = define
    return create_auto_cdc_from_snapshot_flow


_FIRST = object()


def _snapshots(source: Callable[[Any], Any], target: str, after: Any = _FIRST) -> list[tuple[Any, Any]]:
    """The snapshots the function returns, from the first (`after` not given) or those after the
    version `after` (maybe none)."""
    found: list[tuple[Any, Any]] = []
    version = None if after is _FIRST else after
    for _ in range(_MAX_SNAPSHOTS):
        result = source(version)
        if result is None:
            break
        df, version = result
        found.append((df, version))
    if not found and after is _FIRST:
        raise UnsupportedConstructError(
            f"the snapshot function of '{target}' returned no snapshot: the local engine computes the table from "
            "the snapshots, so it needs at least one (return (DataFrame, version) for the first call, with None)")
    return found


def _history(snapshots: list[tuple[Any, Any]], keys: list[str], tracked: list[str] | None,
             untracked: list[str] | None, kept: Any = None) -> Any:
    """The SCD type 2 table of the snapshots in order; with `kept` (the table as an earlier run
    left it), of those snapshots applied after it.

    The kept table stands for the events of the snapshots before: each row is an upsert at its
    `__START_AT` with its values, and a row whose `__END_AT` no row of its key starts at is
    followed by a delete then; its open rows are the last snapshot. These events give the same
    rows as the snapshots they came from (a row's values are its version's last, and an upsert
    that changes no tracked column updates the open row in place), so the result is the full
    recompute's."""
    from pyspark.sql import functions as F

    from etl_assets.ldp.cdc import scd

    events: Any = None
    previous: Any = None
    if kept is not None:
        columns = [c for c in kept.columns if c not in ("__START_AT", "__END_AT")]
        starts = kept.select(*(F.col(k).alias(f"__etl_key_{i}") for i, k in enumerate(keys)),
                             F.col("__START_AT").alias("__etl_start"))
        ended = kept.where(F.col("__END_AT").isNotNull())
        same = [ended[k].eqNullSafe(starts[f"__etl_key_{i}"]) for i, k in enumerate(keys)]
        deletes = ended.join(starts, on=[*same, ended["__END_AT"] == starts["__etl_start"]], how="left_anti")
        events = kept.select(*columns, F.col("__START_AT").alias(_SEQ), F.lit(False).alias(_DEL)).unionByName(
            deletes.select(*columns, F.col("__END_AT").alias(_SEQ), F.lit(True).alias(_DEL)))
        previous = kept.where(F.col("__END_AT").isNull()).select(*columns)
    for df, version in snapshots:
        upserts = df.select("*", F.lit(version).alias(_SEQ), F.lit(False).alias(_DEL))
        parts = [upserts]
        if previous is not None:
            gone = previous.join(df.select(*keys), on=keys, how="left_anti")
            parts.append(gone.select("*", F.lit(version).alias(_SEQ), F.lit(True).alias(_DEL)))
        for part in parts:
            events = part if events is None else events.unionByName(part)
        previous = df
    return scd(events, keys, F.col(_SEQ), F.col(_DEL), [_SEQ, _DEL], 2, track_history_column_list=tracked,
               track_history_except_column_list=untracked)
