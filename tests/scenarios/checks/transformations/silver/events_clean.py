import os

from pyspark.sql import SparkSession

from etl_assets.ldp import Rule, table

spark = SparkSession.active()

RULES = [Rule("valid_id", "id IS NOT NULL", "drop"), Rule("small_id", "id < 100", "warn")]


@table(name="events_clean", expectations=RULES)
def events_clean():
    # ETL_ASSETS_TEST_READ names another input: a table that does not exist makes the flow fail to resolve.
    return spark.readStream.table(os.environ.get("ETL_ASSETS_TEST_READ", "events_bronze"))
