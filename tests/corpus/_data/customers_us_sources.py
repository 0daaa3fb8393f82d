"""Stand-in upstream tables for the multi-flow examples: customers_us_west and customers_us_east.

The examples append these two tables into `customers_us`; on Databricks they exist already.
Here they are streaming tables over JSON files in the folder named by the pipeline setting
`corpus_data`. Plain Apache Spark Declarative Pipelines code.
"""

from pyspark import pipelines as dp

_SCHEMA = "id INT, name STRING, state STRING"


@dp.table
def customers_us_west():
    return spark.readStream.format("json").schema(_SCHEMA).load(spark.conf.get("corpus_data") + "/customers_us_west")  # noqa: F821


@dp.table
def customers_us_east():
    return spark.readStream.format("json").schema(_SCHEMA).load(spark.conf.get("corpus_data") + "/customers_us_east")  # noqa: F821
