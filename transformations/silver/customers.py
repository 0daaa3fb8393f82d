"""customers: the current state of each customer (SCD type 1), by AUTO CDC from the change events."""

from pyspark import pipelines as dp
from pyspark.sql import functions as F

dp.create_streaming_table(name="customers", comment="Current state of each customer (SCD type 1)")

dp.create_auto_cdc_flow(
    target="customers",
    source="customers_cdc_clean",
    keys=["id"],
    sequence_by=F.to_timestamp(F.col("operation_date"), "MM-dd-yyyy HH:mm:ss"),
    apply_as_deletes=F.expr("operation = 'DELETE'"),
    except_column_list=["operation", "operation_date", "_rescued_data"],
    stored_as_scd_type=1,
)
