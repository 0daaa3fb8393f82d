from pyspark import pipelines as dp
from pyspark.sql import SparkSession

spark = SparkSession.active()


@dp.materialized_view(name="letters_bronze")
def letters_bronze():
    return spark.sql("SELECT * FROM VALUES ('a'), ('b'), ('c') AS t(letter)")
