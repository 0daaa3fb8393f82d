"""customers_cdc_bronze: raw customer change events, read incrementally from JSON files."""

from pyspark import pipelines as dp
from pyspark.sql.types import StringType, StructField, StructType

from etl_assets.ldp import read_landing

CUSTOMER_CHANGE = StructType([
    StructField(name, StringType(), True)
    for name in ("id", "firstname", "lastname", "email", "address", "operation", "operation_date")
])

dp.create_streaming_table(
    name="customers_cdc_bronze",
    comment="Raw customer change events, ingested incrementally from JSON files",
)


@dp.append_flow(target="customers_cdc_bronze", name="customers_cdc_bronze")
def customers_cdc_bronze_ingest():
    return read_landing("customers", CUSTOMER_CHANGE, format="json")
