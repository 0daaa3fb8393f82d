"""Pipeline configuration keys shared by the runners and the transformation helpers."""

ENGINE_CONF = "etl_assets.engine"
LANDING_CONF = "etl_assets.landing_path"
