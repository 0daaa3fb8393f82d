"""customers_cdc_bronze: raw customer change events, ingested incrementally with Auto Loader.

`etl_assets.landing_path` is pipeline configuration: the landing volume on Databricks (set by
the bundle), the local landing folder on the local engine.
"""

from pyspark import pipelines as dp

LANDING = spark.conf.get("etl_assets.landing_path")  # noqa: F821 (the pipeline provides `spark`)


@dp.table(name="customers_cdc_bronze", comment="Raw customer change events, ingested incrementally from JSON files")
def customers_cdc_bronze():
    return (
        spark.readStream.format("cloudFiles")  # noqa: F821
        .option("cloudFiles.format", "json")
        .option("cloudFiles.schemaHints",
                "id STRING, firstname STRING, lastname STRING, email STRING, address STRING, "
                "operation STRING, operation_date STRING")
        .option("cloudFiles.inferColumnTypes", "false")
        .load(f"{LANDING}/customers")
    )
