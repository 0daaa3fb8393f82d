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
    pause_ms = int(float(os.environ.get("ETL_ASSETS_TEST_SLOW_SILVER", "0")) * 1000)
    if pause_ms:
        # Each row waits on the server: the flow runs long enough for a test to interrupt it.
        return evens.where(F.expr(
            f"coalesce(java_method('java.lang.Thread', 'sleep', cast({pause_ms} as bigint)), 'x') IS NOT NULL"))
    return evens
