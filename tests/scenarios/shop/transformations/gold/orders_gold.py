"""orders_gold: per customer and day, the orders placed and what they came to.

The scenario's own gold code (the tests read its definitions, never its rows): an aggregate
over the silver orders, written with SQL expressions.
"""

from pyspark import pipelines as dp
from pyspark.sql import SparkSession

spark = SparkSession.active()


@dp.materialized_view(name="orders_gold", comment="Revenue and order count per customer per day")
def orders_gold():
    return (
        spark.read.table("orders_silver")
        .selectExpr("customer_id", "CAST(order_ts AS DATE) AS order_day", "amount")
        .groupBy("customer_id", "order_day")
        .agg({"*": "count", "amount": "sum"})
        .withColumnsRenamed({"count(1)": "order_count", "sum(amount)": "revenue"})
    )
