from pyspark import pipelines as dp
from pyspark.sql import SparkSession

spark = SparkSession.active()


@dp.table(name="events_bronze")
def events_bronze():
    folder = spark.conf.get("etl_assets.landing_path") + "/events"
    return spark.readStream.format("json").schema("id BIGINT, batch STRING").load(folder)
