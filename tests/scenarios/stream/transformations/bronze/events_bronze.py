import os

from pyspark import pipelines as dp
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

spark = SparkSession.active()


@dp.table(name="events_bronze")
def events_bronze():
    folder = spark.conf.get("etl_assets.landing_path") + "/events"
    stream = spark.readStream.format("json").schema("id BIGINT, batch STRING").load(folder)
    if os.environ.get("ETL_ASSETS_TEST_BREAK_BRONZE"):
        return stream.select(F.raise_error(F.lit("events_bronze broke on purpose")).cast("bigint").alias("id"),
                             "batch")
    return stream
