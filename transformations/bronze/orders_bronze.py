"""orders_bronze: raw orders, read incrementally from JSON files."""

from pyspark import pipelines as dp
from pyspark.sql import SparkSession

spark = SparkSession.active()
LANDING = spark.conf.get("etl_assets.landing_path")

dp.create_streaming_table(name="orders_bronze", comment="Raw orders, ingested incrementally from JSON files")


@dp.append_flow(target="orders_bronze", name="orders_bronze_ingest")
def orders_bronze_ingest():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .load(f"{LANDING}/orders")
    )
