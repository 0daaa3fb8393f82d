from pyspark import pipelines as dp
from pyspark.sql import SparkSession

spark = SparkSession.active()


@dp.materialized_view(name="numbers_bronze")
def numbers_bronze():
    return spark.range(10).withColumnRenamed("id", "n")
