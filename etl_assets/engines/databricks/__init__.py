"""The Databricks engine: pipeline updates through the Pipelines API (databricks-sdk)."""
