import os

from pyspark import pipelines as dp
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

spark = SparkSession.active()


@dp.materialized_view(name="numbers_silver")
def numbers_silver():
    evens = spark.read.table("numbers_bronze").where("n % 2 = 0")
    if os.environ.get("ETL_ASSETS_TEST_BREAK_SILVER"):
        # A runtime error inside the flow: the table fails, its run fails.
        return evens.select(F.raise_error(F.lit("numbers_silver broke on purpose")).cast("bigint").alias("n"))
    return evens
