"""customers_cdc_clean: change events that parsed, with an id and a known operation."""

from pyspark import pipelines as dp
from pyspark.sql import SparkSession

from etl_assets.ldp import Rule, expect_all

spark = SparkSession.active()

RULES = [
    Rule("no_rescued_data", "_rescued_data IS NULL", "drop"),
    Rule("valid_id", "id IS NOT NULL", "drop"),
    Rule("valid_operation", "operation IN ('APPEND', 'DELETE', 'UPDATE')", "drop"),
]


@dp.table(name="customers_cdc_clean", comment="Change events that passed the data quality rules")
@expect_all(RULES)
def customers_cdc_clean():
    return spark.readStream.table("customers_cdc_bronze")
