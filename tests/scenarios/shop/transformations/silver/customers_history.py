"""customers_history: every version of each customer (SCD type 2)."""

from pyspark.sql import functions as F

from etl_assets.ldp import auto_cdc

auto_cdc(
    target="customers_history",
    source="customers_cdc_clean",
    keys=["id"],
    sequence_by=F.to_timestamp(F.col("operation_date"), "MM-dd-yyyy HH:mm:ss"),
    apply_as_deletes=F.expr("operation = 'DELETE'"),
    except_column_list=["operation", "operation_date", "_rescued_data"],
    stored_as_scd_type=2,
    comment="Every version of each customer, with __START_AT and __END_AT",
)
