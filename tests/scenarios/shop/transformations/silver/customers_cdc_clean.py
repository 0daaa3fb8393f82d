"""customers_cdc_clean: change events that parsed, with an id and a known operation."""

from pyspark.sql import SparkSession

from etl_assets.ldp import Rule, table

spark = SparkSession.active()

RULES = [
    Rule("no_rescued_data", "_rescued_data IS NULL", "drop"),
    Rule("valid_id", "id IS NOT NULL", "drop"),
    Rule("valid_operation", "operation IN ('APPEND', 'DELETE', 'UPDATE')", "drop"),
]


@table(name="customers_cdc_clean", comment="Change events that passed the data quality rules", expectations=RULES)
def customers_cdc_clean():
    return spark.readStream.table("customers_cdc_bronze")
