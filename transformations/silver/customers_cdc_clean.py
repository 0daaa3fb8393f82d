"""customers_cdc_clean: change events that parsed, with an id and a known operation."""

from pyspark import pipelines as dp


@dp.table(name="customers_cdc_clean", comment="Change events that passed the data quality rules")
@dp.expect_or_drop("no_rescued_data", "_rescued_data IS NULL")
@dp.expect_or_drop("valid_id", "id IS NOT NULL")
@dp.expect_or_drop("valid_operation", "operation IN ('APPEND', 'DELETE', 'UPDATE')")
def customers_cdc_clean():
    return spark.readStream.table("customers_cdc_bronze")  # noqa: F821 (the pipeline provides `spark`)
