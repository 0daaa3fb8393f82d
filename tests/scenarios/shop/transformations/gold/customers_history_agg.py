"""customers_history_agg: per customer, how many distinct addresses, emails and names it had.

The scenario's own gold code (the tests read its definitions, never its rows).
"""

from pyspark import pipelines as dp
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

spark = SparkSession.active()

TRACKED = ("address", "email", "firstname", "lastname")


@dp.materialized_view(name="customers_history_agg", comment="Distinct values per customer over its history")
def customers_history_agg():
    history = spark.read.table("customers_history")
    return history.groupBy("id").agg(*[F.countDistinct(c).alias(f"{c}_count") for c in TRACKED])
