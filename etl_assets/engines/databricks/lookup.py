"""Finding a config pipeline in the workspace: its id if given, else by exact name."""

from __future__ import annotations

from databricks.sdk import WorkspaceClient

from etl_assets.engines.databricks.client import call
from etl_assets.errors import DatabricksApiError
from etl_assets.project.config import Pipeline


def resolve_pipeline_id(w: WorkspaceClient, pipeline: Pipeline) -> str:
    """The workspace id of `pipeline`; an error naming what was found unless exactly one matches."""
    configured = pipeline.id
    if configured:
        call(w.config, f"reading pipeline '{pipeline.key}' (id {configured})",
             lambda: w.pipelines.get(configured))
        return configured
    escaped = pipeline.name.replace("'", "''")
    found = call(w.config, f"looking up pipeline '{pipeline.name}'",
                 lambda: list(w.pipelines.list_pipelines(filter=f"name LIKE '{escaped}'")))
    exact = [p for p in found if p.name == pipeline.name and p.pipeline_id]
    if len(exact) == 1:
        return str(exact[0].pipeline_id)
    if not exact:
        similar = call(w.config, f"looking up pipelines like '{pipeline.name}'",
                       lambda: list(w.pipelines.list_pipelines(filter=f"name LIKE '%{escaped}%'", max_results=100)))
        others = ", ".join(sorted({p.name for p in similar if p.name})[:10]) or "none"
        raise DatabricksApiError(
            f"no pipeline named '{pipeline.name}' in {w.config.host} (config pipeline '{pipeline.key}'; "
            f"similar names: {others}). Deploy the bundle, fix `name:` under pipelines, or set its `id:`"
        )
    ids = ", ".join(str(p.pipeline_id) for p in exact)
    raise DatabricksApiError(
        f"{len(exact)} pipelines are named '{pipeline.name}' in {w.config.host} (ids: {ids}); "
        f"set `id:` for pipeline '{pipeline.key}' in config.yml"
    )
