"""customers_history_agg: per customer, how many addresses, emails and names it had."""

from pyspark import pipelines as dp
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

spark = SparkSession.active()


@dp.materialized_view(name="customers_history_agg", comment="Distinct values per customer over its history")
def customers_history_agg():
    return (
        spark.read.table("customers_history")
        .groupBy("id")
        .agg(
            F.count("address").alias("address_count"),
            F.count("email").alias("email_count"),
            F.count("firstname").alias("firstname_count"),
            F.count("lastname").alias("lastname_count"),
        )
    )
