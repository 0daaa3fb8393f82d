"""orders_gold: revenue and order count per customer per day."""

from pyspark import pipelines as dp
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

spark = SparkSession.active()


@dp.materialized_view(name="orders_gold", comment="Revenue and order count per customer per day")
def orders_gold():
    return (
        spark.read.table("orders_silver")
        .select("customer_id", "amount", F.to_date("order_ts").alias("order_day"))
        .groupBy("customer_id", "order_day")
        .agg(F.count("*").alias("order_count"), F.round(F.sum("amount"), 2).alias("revenue"))
    )
