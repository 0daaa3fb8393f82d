"""orders_silver: valid orders with the customer's current name and email.

`customers` belongs to the customers_cdc pipeline, which runs before this one.
"""

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from etl_assets.ldp import Rule, materialized_view

spark = SparkSession.active()

RULES = [
    Rule("valid_order_id", "order_id IS NOT NULL", "drop"),
    Rule("positive_amount", "amount > 0", "warn"),
]


@materialized_view(name="orders_silver", comment="Valid orders joined with the current customer", expectations=RULES)
def orders_silver():
    orders = spark.read.table("orders_bronze").select("order_id", "customer_id", "amount", "order_ts")
    customers = spark.read.table("customers").select(
        F.col("id").alias("customer_id"), "firstname", "lastname", "email"
    )
    return orders.join(customers, on="customer_id", how="left")
