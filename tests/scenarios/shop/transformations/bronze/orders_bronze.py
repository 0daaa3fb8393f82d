"""orders_bronze: raw orders, read incrementally from JSON files."""

from pyspark import pipelines as dp
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from etl_assets.ldp import read_landing

ORDER = StructType([
    StructField("order_id", StringType(), True),
    StructField("customer_id", StringType(), True),
    StructField("amount", DoubleType(), True),
    StructField("order_ts", StringType(), True),
])

dp.create_streaming_table(name="orders_bronze", comment="Raw orders, ingested incrementally from JSON files")


@dp.append_flow(target="orders_bronze", name="orders_bronze")
def orders_bronze_ingest():
    return read_landing("orders", ORDER, format="json")
