"""orders_silver: valid orders with the customer's current name and email.

`customers` belongs to the customers_cdc pipeline, which runs before this one.
"""

from pyspark import pipelines as dp
from pyspark.sql import functions as F


@dp.materialized_view(name="orders_silver", comment="Valid orders joined with the current customer")
@dp.expect_or_drop("valid_order_id", "order_id IS NOT NULL")
@dp.expect("positive_amount", "amount > 0")
def orders_silver():
    orders = spark.read.table("orders_bronze").select("order_id", "customer_id", "amount", "order_ts")  # noqa: F821
    customers = spark.read.table("customers").select(  # noqa: F821
        F.col("id").alias("customer_id"), "firstname", "lastname", "email"
    )
    return orders.join(customers, on="customer_id", how="left")
