from pyspark import pipelines as dp
from pyspark.sql import SparkSession

spark = SparkSession.active()


@dp.materialized_view(name="numbers_gold")
def numbers_gold():
    return spark.read.table("numbers_silver").groupBy().count()
