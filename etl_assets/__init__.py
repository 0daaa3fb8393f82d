"""etl_assets: medallion tables of Lakeflow Declarative Pipelines as a Dagster asset graph.

This package root imports nothing heavy: pipelines install it without Dagster.
"""

from __future__ import annotations

__version__ = "0.1.0"
