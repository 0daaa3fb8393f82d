"""The default Dagster code location: `dagster ... -m etl_assets.definitions`.

The one place the environment is read (`Settings.from_env`): config.yml from $ETL_ASSETS_CONFIG
or the current folder; the engine local unless $ETL_ASSETS_ENGINE says databricks (see
`etl_assets.dagster.resources.default_engine_resource`), the local engine's server on the Spark
master $ETL_ASSETS_SPARK_MASTER names (default local[*]; docs/spark-cluster.md); code links from
$ETL_ASSETS_GIT_*; alerts to $ETL_ASSETS_ALERT_WEBHOOK_URL; local state in $ETL_ASSETS_HOME; the
code cache in $ETL_ASSETS_CODE_CACHE. Library functions take these as arguments and read no
variable themselves.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType

from etl_assets.dagster.definitions import Settings, build_definitions
from etl_assets.errors import EtlAssetsError

_default_hook = sys.excepthook


def _short_errors(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    # A command such as `dagster asset materialize` would print the whole import traceback
    # (about 70 lines) before our message; the message already says what is wrong and where.
    if isinstance(error, EtlAssetsError):
        print(f"Error: {error}", file=sys.stderr)
    else:
        _default_hook(kind, error, trace)


try:
    settings = Settings.from_env(os.environ)
    defs = build_definitions(settings.config, engine=settings.engine, git=settings.git, alerts=settings.alerts,
                             code_cache=settings.code_cache)
except EtlAssetsError as exc:
    # Code servers catch the error and show its message in the UI; the hook only changes what
    # an uncaught error prints when a command loads this module directly.
    sys.excepthook = _short_errors
    raise exc.with_traceback(None) from None
