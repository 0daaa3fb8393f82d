"""orders_bronze: raw orders, ingested incrementally with Auto Loader."""

from pyspark import pipelines as dp

LANDING = spark.conf.get("etl_assets.landing_path")  # noqa: F821 (the pipeline provides `spark`)


@dp.table(name="orders_bronze", comment="Raw orders, ingested incrementally from JSON files")
def orders_bronze():
    return (
        spark.readStream.format("cloudFiles")  # noqa: F821
        .option("cloudFiles.format", "json")
        .option("cloudFiles.schemaHints", "order_id STRING, customer_id STRING, amount DOUBLE, order_ts STRING")
        .option("cloudFiles.inferColumnTypes", "false")
        .load(f"{LANDING}/orders")
    )
