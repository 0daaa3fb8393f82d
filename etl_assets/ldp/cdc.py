"""AUTO CDC (SCD type 1 and 2): `dp.create_auto_cdc_flow` on Databricks, a materialized view locally.

Open-source Spark has the API but no table format that supports MERGE, so locally the same
result is computed from the whole change feed each run: the highest sequence value per key
wins whatever the arrival order; a delete removes the key (type 1) or closes its open row
(type 2); type 2 rows carry `__START_AT`/`__END_AT` from the sequence column, the open row
a null `__END_AT`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from etl_assets.ldp.runtime import engine

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

_SEQ = "__etl_sequence"
_DELETE = "__etl_is_delete"
_ROW = "__etl_row"


def auto_cdc(
    *,
    target: str,
    source: str,
    keys: Sequence[str],
    sequence_by: Column,
    apply_as_deletes: Column | None = None,
    except_column_list: Sequence[str] = (),
    stored_as_scd_type: int = 1,
    comment: str | None = None,
) -> None:
    """Define `target` as the SCD type 1 or 2 table of the change feed `source`.

    >>> auto_cdc(target="customers", source="customers_cdc_clean", keys=["id"],    # doctest: +SKIP
    ...          sequence_by=F.col("operation_date"), stored_as_scd_type=1)
    """
    from pyspark import pipelines as dp
    from pyspark.sql import SparkSession

    if stored_as_scd_type not in (1, 2):
        raise ValueError(f"stored_as_scd_type must be 1 or 2, not {stored_as_scd_type!r}")
    if engine() == "databricks":
        dp.create_streaming_table(name=target, comment=comment)
        dp.create_auto_cdc_flow(
            target=target, source=source, keys=list(keys), sequence_by=sequence_by,
            apply_as_deletes=apply_as_deletes, except_column_list=list(except_column_list) or None,
            stored_as_scd_type=stored_as_scd_type,
        )
        return

    @dp.materialized_view(name=target, comment=comment)
    def _scd() -> DataFrame:
        changes = SparkSession.active().read.table(source)
        return scd(changes, keys, sequence_by, apply_as_deletes, except_column_list, stored_as_scd_type)


def scd(
    changes: DataFrame,
    keys: Sequence[str],
    sequence_by: Column,
    apply_as_deletes: Column | None,
    except_column_list: Sequence[str],
    scd_type: int,
) -> DataFrame:
    """The SCD table of a batch of change events (the local AUTO CDC).

    Only `select`, `where`, `join` and aggregates: with pyspark 4.3 the Spark Connect planner
    analyzes the input of `drop`, `withColumn(s)` and `withColumnRenamed` eagerly, so a read of
    a pipeline dataset below them resolves to the catalog table left by the previous run; the
    view then loses its dependency and runs before its input is refreshed (measured). Each event
    is packed into a struct and the except columns are removed with `dropFields` instead.
    """
    from pyspark.sql import functions as F

    is_delete = F.coalesce(apply_as_deletes, F.lit(False)) if apply_as_deletes is not None else F.lit(False)
    key_names = [f"__etl_key_{i}" for i in range(len(keys))]
    events = changes.select(
        F.struct("*").alias(_ROW),
        *(F.col(k).alias(n) for k, n in zip(keys, key_names)),
        sequence_by.alias(_SEQ),
        is_delete.alias(_DELETE),
    ).where(F.col(_SEQ).isNotNull())
    row = F.col(_ROW).dropFields(*except_column_list) if except_column_list else F.col(_ROW)
    if scd_type == 1:
        latest = events.groupBy(*key_names).agg(
            F.max_by(F.struct(_ROW, _DELETE), _SEQ).alias("__etl_latest")
        )
        return (
            latest.where(~F.col(f"__etl_latest.{_DELETE}"))
            .select(F.col(f"__etl_latest.{_ROW}").alias(_ROW))
            .select(row.alias(_ROW))
            .select(f"{_ROW}.*")
        )
    later = events.select(*(F.col(n).alias(f"{n}_next") for n in key_names), F.col(_SEQ).alias("__etl_next"))
    on = [F.col(n) == F.col(f"{n}_next") for n in key_names] + [F.col("__etl_next") > F.col(_SEQ)]
    versions = (
        events.where(~F.col(_DELETE))
        .join(later, on=on, how="left")
        .groupBy(*key_names, _SEQ)
        .agg(F.first(_ROW).alias(_ROW), F.min("__etl_next").alias("__END_AT"))
    )
    return versions.select(row.alias(_ROW), F.col(_SEQ).alias("__START_AT"), "__END_AT").select(
        f"{_ROW}.*", "__START_AT", "__END_AT"
    )
