"""A Dagster job refreshing whole pipelines of a project, rebuildable in the executor's processes.

Dagster's multiprocess executor starts a process per step and rebuilds the job there, so the
job comes from this module's `pipelines_job()`, which reads the project from
$ETL_ASSETS_CONFIG and the pipelines from $BENCH_PIPELINES (comma separated).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
# Step processes import this module by name: let them find it whatever their start method.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH", "")) if p)

from dagster import AssetSelection, Definitions, JobDefinition, define_asset_job  # noqa: E402

from etl_assets.dagster.assets import build_table_assets  # noqa: E402
from etl_assets.dagster.resources import ENGINE_RESOURCE_KEY, default_engine_resource  # noqa: E402
from etl_assets.project.load import load_config  # noqa: E402


def pipelines_job() -> JobDefinition:
    """Every table of the pipelines named by $BENCH_PIPELINES, as one job."""
    config = load_config(Path(os.environ["ETL_ASSETS_CONFIG"]))
    keys = os.environ["BENCH_PIPELINES"].split(",")
    names = [t.name for key in keys for t in config.tables_of(key)]
    job = define_asset_job("bench_pipelines", selection=AssetSelection.assets(*names))
    defs = Definitions(assets=build_table_assets(config), jobs=[job],
                       resources={ENGINE_RESOURCE_KEY: default_engine_resource(os.environ)})
    return defs.resolve_job_def("bench_pipelines")
