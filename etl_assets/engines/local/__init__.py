"""The local engine: config pipelines run on Apache Spark Declarative Pipelines (no Dagster here)."""
