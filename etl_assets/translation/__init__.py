"""Translation of pipeline sources (Python files, SQL files, Databricks notebooks) into what the local client runs."""
