from pyspark import pipelines as dp
from pyspark.sql import SparkSession

spark = SparkSession.active()


@dp.materialized_view(name="events_count")
def events_count():
    return spark.read.table("events_bronze").groupBy().count()
