"""customers_cdc_bronze: raw customer change events, read incrementally from JSON files."""

from pyspark import pipelines as dp
from pyspark.sql import SparkSession

spark = SparkSession.active()
LANDING = spark.conf.get("etl_assets.landing_path")

dp.create_streaming_table(
    name="customers_cdc_bronze",
    comment="Raw customer change events, ingested incrementally from JSON files",
)


@dp.append_flow(target="customers_cdc_bronze", name="customers_cdc_bronze_ingest")
def customers_cdc_bronze_ingest():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .load(f"{LANDING}/customers")
    )
