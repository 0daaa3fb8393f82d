"""AUTO CDC (SCD type 1 and 2): `dp.create_auto_cdc_flow` on Databricks, a materialized view locally.

Open-source Spark has the API but no table format that supports MERGE, so locally the result
is computed as if the events were applied in sequence order (`scd`, the full recompute; the
local engine applies it to the keys that new change rows touch, see
`etl_assets.engines.local.compat.cdc_incremental`):

- the highest sequence value per key wins whatever the arrival order;
- a delete removes the key (type 1) or closes its open row (type 2);
- a truncate (type 1 only) empties the table as of its sequence value: only events with a
  higher sequence value remain;
- type 2 rows carry `__START_AT`/`__END_AT` from the sequence column, the open row a null
  `__END_AT`; an upsert opens a new row only when a tracked column changes (all output columns
  unless `track_history_column_list` or `track_history_except_column_list` says otherwise),
  otherwise it updates the open row in place;
- with `ignore_null_updates`, a null in an upsert keeps the value the row already has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from etl_assets.ldp.runtime import engine

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

_SEQ = "__etl_sequence"
_DELETE = "__etl_is_delete"
_TRUNCATE = "__etl_is_truncate"
_ROW = "__etl_row"
_OUT = "__etl_out"


def auto_cdc(
    *,
    target: str,
    source: str,
    keys: Sequence[str],
    sequence_by: Column | str,
    apply_as_deletes: Column | str | None = None,
    apply_as_truncates: Column | str | None = None,
    column_list: Sequence[str] | None = None,
    except_column_list: Sequence[str] | None = None,
    stored_as_scd_type: int | str = 1,
    track_history_column_list: Sequence[str] | None = None,
    track_history_except_column_list: Sequence[str] | None = None,
    ignore_null_updates: bool = False,
    comment: str | None = None,
) -> None:
    """Define `target` as the SCD type 1 or 2 table of the change feed `source`.

    The parameters mean what they mean for Databricks' `create_auto_cdc_flow`; invalid
    combinations raise `ValueError` here, when the pipeline is defined, on both engines.

    >>> auto_cdc(target="customers", source="customers_cdc_clean", keys=["id"],    # doctest: +SKIP
    ...          sequence_by=F.col("operation_date"), stored_as_scd_type=1)

    Args:
        target: Name of the table to define.
        source: Name of the dataset holding the change events.
        keys: Columns that identify a row.
        sequence_by: Orders the events (a Column or a SQL expression); an event with a null
            sequence value is ignored.
        apply_as_deletes: True for an event that deletes its key (a Column or a SQL expression).
        apply_as_truncates: True for an event that empties the table (SCD type 1 only; a Column
            or a SQL expression).
        column_list: The columns to keep, in this order (not with `except_column_list`).
        except_column_list: The columns to leave out (not with `column_list`).
        stored_as_scd_type: 1 (latest row per key) or 2 (every version, `__START_AT`/`__END_AT`).
        track_history_column_list: SCD type 2: only changes in these columns open a new row.
        track_history_except_column_list: SCD type 2: changes in these columns do not open a new row.
        ignore_null_updates: A null in an update keeps the existing value of that column. On
            the local engine this needs `column_list`: the query is planned before the
            source's columns are known, and the merge names each column.
        comment: Description of the table.
    """
    from pyspark import pipelines as dp
    from pyspark.sql import SparkSession

    scd_type = _check(
        stored_as_scd_type=stored_as_scd_type, keys=keys, apply_as_truncates=apply_as_truncates,
        column_list=column_list, except_column_list=except_column_list,
        track_history_column_list=track_history_column_list,
        track_history_except_column_list=track_history_except_column_list,
    )
    if engine() == "databricks":
        # Only the options the caller set are passed: the defaults stay Databricks' own, and a
        # runtime whose create_auto_cdc_flow lacks an option fails only when that option is used.
        options: dict[str, Any] = {
            "apply_as_deletes": apply_as_deletes,
            "apply_as_truncates": apply_as_truncates,
            "column_list": list(column_list) if column_list else None,
            "except_column_list": list(except_column_list) if except_column_list else None,
            "track_history_column_list": list(track_history_column_list) if track_history_column_list else None,
            "track_history_except_column_list": (
                list(track_history_except_column_list) if track_history_except_column_list else None
            ),
            "ignore_null_updates": True if ignore_null_updates else None,
        }
        dp.create_streaming_table(name=target, comment=comment)
        dp.create_auto_cdc_flow(
            target=target, source=source, keys=list(keys), sequence_by=sequence_by,
            stored_as_scd_type=2 if scd_type == 2 else 1, **{k: v for k, v in options.items() if v is not None},
        )
        return

    if ignore_null_updates and not column_list:
        raise ValueError(
            f"auto_cdc(target={target!r}): ignore_null_updates on the local engine needs column_list: "
            "the query is planned before the source's columns are known, and merging nulls with the "
            "existing values has to name each column; pass column_list=[...] with the table's columns"
        )

    def recompute(changes: DataFrame) -> DataFrame:
        return scd(
            changes, keys, sequence_by, apply_as_deletes, except_column_list or (), scd_type,
            apply_as_truncates=apply_as_truncates, column_list=column_list,
            track_history_column_list=track_history_column_list,
            track_history_except_column_list=track_history_except_column_list,
            ignore_null_updates=ignore_null_updates,
        )

    # The local engine's compatibility layer keeps the target and applies only the new changes.
    if _LOCAL_TARGET(LocalTarget(target, source, list(keys), recompute, column_list, except_column_list,
                                 apply_as_truncates, comment)):
        return

    @dp.materialized_view(name=target, comment=comment)
    def _scd() -> DataFrame:
        return recompute(SparkSession.active().read.table(source))


@dataclass(frozen=True)
class LocalTarget:
    """An AUTO CDC target as the local engine defines it: `recompute` is the full recompute from
    a DataFrame of change rows, the other fields are `auto_cdc`'s arguments."""

    target: str
    source: str
    keys: list[str]
    recompute: Callable[[DataFrame], DataFrame]
    column_list: Sequence[str] | None
    except_column_list: Sequence[str] | None
    apply_as_truncates: Column | str | None
    comment: str | None


def _no_local_target(target: LocalTarget) -> bool:
    return False


# Replaced by the local engine's compatibility layer while it is installed: defines the target
# and returns True.
_LOCAL_TARGET: Callable[[LocalTarget], bool] = _no_local_target


def _check(
    *,
    stored_as_scd_type: int | str,
    keys: Sequence[str],
    apply_as_truncates: Column | str | None,
    column_list: Sequence[str] | None,
    except_column_list: Sequence[str] | None,
    track_history_column_list: Sequence[str] | None,
    track_history_except_column_list: Sequence[str] | None,
) -> int:
    """The SCD type as an int, after rejecting what Databricks rejects (one message per problem).

    Args:
        stored_as_scd_type: 1, 2, "1" or "2" (Databricks' examples use both forms).
        keys: At least one column.
        apply_as_truncates: Only with SCD type 1.
        column_list: Not together with `except_column_list`.
        except_column_list: Not together with `column_list`.
        track_history_column_list: Only with SCD type 2, not with the except list.
        track_history_except_column_list: Only with SCD type 2, not with the include list.
    """
    if str(stored_as_scd_type) not in ("1", "2"):
        raise ValueError(f"auto_cdc: stored_as_scd_type must be 1 or 2, not {stored_as_scd_type!r}")
    scd_type = int(stored_as_scd_type)
    for name, value in (("keys", keys), ("column_list", column_list), ("except_column_list", except_column_list),
                        ("track_history_column_list", track_history_column_list),
                        ("track_history_except_column_list", track_history_except_column_list)):
        # A bare string would be read as a list of one-letter columns.
        if isinstance(value, str):
            raise ValueError(f"auto_cdc: {name} is a list of column names, not the string {value!r}: write [{value!r}]")
    if not keys:
        raise ValueError("auto_cdc: keys is empty: name the column(s) that identify a row, e.g. keys=['id']")
    if apply_as_truncates is not None and scd_type != 1:
        raise ValueError(
            "auto_cdc: apply_as_truncates works only with stored_as_scd_type=1 (AUTO CDC cannot "
            "truncate a history table): remove apply_as_truncates or store as SCD type 1"
        )
    if column_list and except_column_list:
        raise ValueError(
            "auto_cdc: column_list and except_column_list are mutually exclusive: keep columns "
            "with column_list or leave some out with except_column_list, not both"
        )
    tracked = [n for n, v in (("track_history_column_list", track_history_column_list),
                              ("track_history_except_column_list", track_history_except_column_list)) if v]
    if tracked and scd_type != 2:
        raise ValueError(
            f"auto_cdc: {' and '.join(tracked)} works only with stored_as_scd_type=2 (a type 1 table "
            "keeps no history): set stored_as_scd_type=2 or remove it"
        )
    if len(tracked) == 2:
        raise ValueError(
            "auto_cdc: track_history_column_list and track_history_except_column_list are mutually "
            "exclusive: name the tracked columns or the untracked ones, not both"
        )
    return scd_type


def scd(
    changes: DataFrame,
    keys: Sequence[str],
    sequence_by: Column | str,
    apply_as_deletes: Column | str | None,
    except_column_list: Sequence[str],
    scd_type: int,
    *,
    apply_as_truncates: Column | str | None = None,
    column_list: Sequence[str] | None = None,
    track_history_column_list: Sequence[str] | None = None,
    track_history_except_column_list: Sequence[str] | None = None,
    ignore_null_updates: bool = False,
) -> DataFrame:
    """The SCD table of a batch of change events (the local AUTO CDC).

    Only `select` (window functions included), `where`, `join` and aggregates: with pyspark
    4.3 the Spark Connect planner analyzes the input of `drop`, `withColumn(s)` and
    `withColumnRenamed` eagerly, so a read of a pipeline dataset below them resolves to the
    catalog table left by the previous run; the view then loses its dependency and runs before
    its input is refreshed (measured). For the same reason the source's column names are never
    asked for: each event is packed into a struct, and columns are chosen with `dropFields` or
    by the names the caller gave.

    Args:
        changes: The change events.
        keys: Columns that identify a row.
        sequence_by: Orders the events; events with a null value are ignored.
        apply_as_deletes: True for a delete event, or None.
        except_column_list: Columns left out of the result.
        scd_type: 1 or 2.
        apply_as_truncates: True for a truncate event (type 1), or None.
        column_list: The columns of the result, in order, or None for all but the except ones.
        track_history_column_list: Type 2: the columns whose change opens a new row.
        track_history_except_column_list: Type 2: the columns whose change updates the open row.
        ignore_null_updates: Nulls in an upsert keep the row's values; needs `column_list`.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if ignore_null_updates and not column_list:
        raise ValueError("scd: ignore_null_updates needs column_list (the columns to merge, by name)")
    # Strings are SQL expressions, as create_auto_cdc_flow takes them.
    sequence_by = F.expr(sequence_by) if isinstance(sequence_by, str) else sequence_by
    if isinstance(apply_as_deletes, str):
        apply_as_deletes = F.expr(apply_as_deletes)
    if isinstance(apply_as_truncates, str):
        apply_as_truncates = F.expr(apply_as_truncates)
    is_truncate = F.coalesce(apply_as_truncates, F.lit(False)) if apply_as_truncates is not None else F.lit(False)
    is_delete = F.coalesce(apply_as_deletes, F.lit(False)) if apply_as_deletes is not None else F.lit(False)
    key_names = [f"__etl_key_{i}" for i in range(len(keys))]
    events = changes.select(
        F.struct("*").alias(_ROW),
        *(F.col(k).alias(n) for k, n in zip(keys, key_names)),
        sequence_by.alias(_SEQ),
        # A truncate is not also a delete of its (usually null) key.
        (is_delete & ~is_truncate).alias(_DELETE),
        is_truncate.alias(_TRUNCATE),
    ).where(F.col(_SEQ).isNotNull())
    if apply_as_truncates is not None:
        # Everything up to the last truncate is gone; a truncate has no key of its own.
        truncated = events.where(F.col(_TRUNCATE)).groupBy().agg(F.max(_SEQ).alias("__etl_truncated_at"))
        events = (
            events.where(~F.col(_TRUNCATE)).crossJoin(truncated)
            .where(F.col("__etl_truncated_at").isNull() | (F.col(_SEQ) > F.col("__etl_truncated_at")))
            .select(_ROW, *key_names, _SEQ, _DELETE)
        )

    def output(row: Column) -> Column:
        if column_list:
            return F.struct(*(row.getField(c).alias(c) for c in column_list))
        return row.dropFields(*except_column_list) if except_column_list else row

    in_order = Window.partitionBy(*key_names).orderBy(_SEQ)
    if scd_type == 1 and not ignore_null_updates:
        latest = events.groupBy(*key_names).agg(F.max_by(F.struct(_ROW, _DELETE), _SEQ).alias("__etl_latest"))
        return (
            latest.where(~F.col(f"__etl_latest.{_DELETE}"))
            .select(output(F.col(f"__etl_latest.{_ROW}")).alias(_OUT))
            .select(f"{_OUT}.*")
        )
    if ignore_null_updates:
        # A delete starts a new life for its key: values from before it are not merged into an
        # upsert after it. Per column, the last non-null value of this life so far.
        life = events.select(
            "*", F.sum(F.col(_DELETE).cast("int")).over(in_order.rowsBetween(Window.unboundedPreceding, 0))
            .alias("__etl_life"),
        )
        so_far = (Window.partitionBy(*key_names, "__etl_life").orderBy(_SEQ)
                  .rowsBetween(Window.unboundedPreceding, 0))
        merged = F.struct(*(
            F.last(F.when(~F.col(_DELETE), F.col(_ROW).getField(c)), ignorenulls=True).over(so_far).alias(c)
            for c in column_list or ()
        ))
        events = life.select(*key_names, _SEQ, _DELETE, merged.alias(_OUT))
    else:
        events = events.select(*key_names, _SEQ, _DELETE, output(F.col(_ROW)).alias(_OUT))
    out = F.col(_OUT)

    if scd_type == 1:
        latest = events.groupBy(*key_names).agg(F.max_by(F.struct(_OUT, _DELETE), _SEQ).alias("__etl_latest"))
        return latest.where(~F.col(f"__etl_latest.{_DELETE}")).select(f"__etl_latest.{_OUT}.*")

    if track_history_column_list:
        tracked = F.struct(*(out.getField(c).alias(c) for c in track_history_column_list))
    elif track_history_except_column_list:
        # The constant field keeps the struct non-empty when every column is untracked (then
        # every upsert updates the open row, as Spark's AUTO CDC does with nothing tracked).
        tracked = out.withField("__etl_tracked", F.lit(True)).dropFields(*track_history_except_column_list)
    else:
        tracked = out
    # An upsert opens a new row after a delete, at the start, or when a tracked column differs
    # from the previous upsert (null-safe); otherwise it updates the open row in place.
    previous = F.lag(F.struct(F.col(_DELETE).alias("d"), tracked.alias("t"))).over(in_order)
    opens = ~F.col(_DELETE) & (previous.isNull() | previous.getField("d") | ~previous.getField("t").eqNullSafe(tracked))
    flagged = events.select("*", opens.alias("__etl_opens"))
    boundary = F.col(_DELETE) | F.col("__etl_opens")
    numbered = flagged.select(
        "*",
        F.sum(F.col("__etl_opens").cast("int")).over(in_order.rowsBetween(Window.unboundedPreceding, 0))
        .alias("__etl_version"),
        F.min(F.when(boundary, F.col(_SEQ))).over(in_order.rowsBetween(1, Window.unboundedFollowing))
        .alias("__etl_next"),
    )
    versions = (
        numbered.where(~F.col(_DELETE))
        .groupBy(*key_names, "__etl_version")
        .agg(
            F.max_by(_OUT, _SEQ).alias(_OUT),
            F.min(_SEQ).alias("__START_AT"),
            F.max_by("__etl_next", _SEQ).alias("__END_AT"),
        )
    )
    return versions.select(f"{_OUT}.*", "__START_AT", "__END_AT")
