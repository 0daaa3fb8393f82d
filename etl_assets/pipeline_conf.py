"""Pipeline configuration keys shared by the runners and the transformation helpers."""

ENGINE_CONF = "etl_assets.engine"
LANDING_CONF = "etl_assets.landing_path"
QUALITY_PREFIX = "etl_quality__"


def quality_dataset_name(table: str) -> str:
    """The local companion dataset holding a table's per-row expectation results."""
    return f"{QUALITY_PREFIX}{table}"
