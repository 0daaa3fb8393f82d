"""customers_history: every version of each customer (SCD type 2), by AUTO CDC."""

from pyspark import pipelines as dp
from pyspark.sql import functions as F

dp.create_streaming_table(name="customers_history", comment="Every version of each customer, with __START_AT and __END_AT")

dp.create_auto_cdc_flow(
    target="customers_history",
    source="customers_cdc_clean",
    keys=["id"],
    sequence_by=F.to_timestamp(F.col("operation_date"), "MM-dd-yyyy HH:mm:ss"),
    apply_as_deletes=F.expr("operation = 'DELETE'"),
    except_column_list=["operation", "operation_date", "_rescued_data"],
    stored_as_scd_type=2,
)
