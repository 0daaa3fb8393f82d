"""The engines as Dagster resources: what runs the pipelines, configured where Dagster shows it.

Assets, checks and sensors take the resource as a parameter named `engine`, as
`@dbt_assets` functions take a `DbtCliResource`. Pick one per code location:

    build_definitions("config.yml", engine=LocalPipelinesResource(home="/data/etl"))
    build_definitions("config.yml", engine=DatabricksPipelinesResource(token=EnvVar("DATABRICKS_TOKEN")))

dagster-databricks' `DatabricksClientResource` is not used: it refuses to build a client
without explicit credentials (so a `~/.databrickscfg` profile or the SDK's default chain
cannot be used), and it cannot bound the SDK's retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field, field_validator

from etl_assets.engines.base import Engine, EngineTraits
from etl_assets.engines.registry import (
    DatabricksCredentials,
    DatabricksSettings,
    databricks_engine,
    databricks_traits,
    local_engine,
    local_engine_class,
)
from etl_assets.errors import ConfigError, ConfigProblem

ENGINE_RESOURCE_KEY = "engine"
ENGINE_ENV_VAR = "ETL_ASSETS_ENGINE"


class PipelinesEngineResource(ConfigurableResource):
    """Base of the engine resources: `get_engine()` gives the engine that runs updates."""

    def get_engine(self) -> Engine:
        """The engine, configured from this resource's fields."""
        raise NotImplementedError

    def engine_traits(self) -> type[EngineTraits]:
        """The engine's name, kind and table names, known without configuring or connecting it."""
        raise NotImplementedError

    @property
    def engine_name(self) -> str:
        """`local` or `databricks`."""
        return self.engine_traits().name


class LocalPipelinesResource(PipelinesEngineResource):
    """Apache Spark Declarative Pipelines on this machine (the default engine).

    >>> LocalPipelinesResource(home=".etl_assets", warm_spark=True).engine_name
    'local'
    """

    home: str | None = Field(
        default=None,
        description="Folder of all local state (warehouse, metastore, checkpoints, landing files). "
                    "Default: .etl_assets/ in the project folder (the default code location takes $ETL_ASSETS_HOME).",
    )
    warm_spark: bool = Field(
        default=True,
        description="Keep one Spark Connect server per home running between runs (skips the JVM start-up).",
    )
    lock_timeout_seconds: float = Field(
        default=3600.0, ge=0,
        description="How long an update waits for another run of the same pipeline (or of a pipeline whose "
                    "tables it reads) before giving up without refreshing anything.",
    )
    master: str | None = Field(
        default=None,
        description="Spark master the warm server (the driver) runs on: spark://HOST:PORT, k8s://https://HOST:PORT, "
                    "yarn; default local[*] (this machine). On a cluster the home must be a folder every node sees "
                    "at the same path (docs/spark-cluster.md).",
    )
    spark_conf: dict[str, str] = Field(
        default={},
        description="Static settings of the warm server, passed through: executors (spark.executor.memory, "
                    "spark.executor.cores, spark.cores.max), spark.driver.host, Kubernetes settings, ...",
    )

    @field_validator("spark_conf", mode="before")
    @classmethod
    def _spark_values_as_text(cls, value: Any) -> Any:
        # A defs.yaml's rendered "16" arrives as a number (and "true" as a boolean); Spark takes
        # every setting as text.
        if isinstance(value, Mapping):
            return {k: str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, (int, float)) else v
                    for k, v in value.items()}
        return value

    def engine_traits(self) -> type[EngineTraits]:
        """`LocalEngine`."""
        return local_engine_class()

    def get_engine(self) -> Engine:
        """A `LocalEngine` on this resource's home and warm-Spark setting (pyspark is imported here)."""
        return local_engine(home=self.home, warm_spark=self.warm_spark, lock_timeout_seconds=self.lock_timeout_seconds,
                            master=self.master, spark_conf=self.spark_conf)


class DatabricksPipelinesResource(PipelinesEngineResource):
    """A Databricks workspace through the Pipelines API.

    Credentials left empty come from the databricks-sdk's default chain (DATABRICKS_HOST,
    DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID/SECRET, then DATABRICKS_CONFIG_PROFILE or the
    DEFAULT profile of ~/.databrickscfg). Give secrets as `EnvVar("...")` so the UI shows the
    variable's name, never its value.

    >>> DatabricksPipelinesResource(host="https://adb-1.azuredatabricks.net").engine_name
    'databricks'
    """

    host: str | None = Field(default=None, description="Workspace URL; default: the SDK's chain (DATABRICKS_HOST)")
    token: str | None = Field(
        default=None, description="Personal access token; give it as EnvVar('DATABRICKS_TOKEN') "
                                  "(in a defs.yaml: '{{ env.DATABRICKS_TOKEN }}')")
    client_id: str | None = Field(default=None, description="OAuth M2M client id (service principal)")
    client_secret: str | None = Field(
        default=None, description="OAuth M2M secret; give it as an EnvVar (in a defs.yaml: '{{ env.NAME }}')")
    profile: str | None = Field(default=None, description="Profile in ~/.databrickscfg")
    poll_seconds: float = Field(default=2.0, ge=0, description="First wait between polls of an update")
    max_poll_seconds: float = Field(default=15.0, ge=0, description="Longest wait between polls")
    wait_active_seconds: float = Field(
        default=1800.0, ge=0, description="How long to wait for someone else's active update before giving up")
    retry_timeout_seconds: float = Field(default=120.0, ge=0, description="How long the SDK retries 429 and 503")
    reconnect_seconds: float = Field(
        default=300.0, ge=0, description="How long to keep retrying a lost connection while following an update")
    connect_seconds: float = Field(
        default=10.0, ge=0, description="How long the first connection to the host may take; a host that does not "
                                        "resolve, refuses or accepts nothing within it fails at once")
    unknown_state_seconds: float = Field(
        default=600.0, ge=0, description="How long an update may answer without a known state before the step "
                                         "fails saying its end is unknown")
    landing_volume: str | None = Field(
        default=None,
        description="Volume the landing sensor watches (/Volumes/<catalog>/<schema>/<volume>); default: each "
                    "pipeline's etl_assets.landing_path setting",
    )

    warehouse_id: str | None = Field(
        default=None,
        description="SQL warehouse that evaluates checks run on their own (a check's Execute), on the table as "
                    "it is, without an update; without it such a run fails saying to set this",
    )

    def engine_traits(self) -> type[EngineTraits]:
        """`DatabricksTraits` (the SDK is imported only when the engine runs)."""
        return databricks_traits()

    def get_engine(self) -> Engine:
        """A `DatabricksEngine` with this resource's credentials, polling bounds, landing volume and warehouse."""
        return databricks_engine(credentials=self.credentials(), settings=self.settings(),
                                 landing_volume=self.landing_volume, warehouse_id=self.warehouse_id)

    def credentials(self) -> DatabricksCredentials:
        """The explicit credentials of this resource (None fields: the SDK's chain)."""
        return DatabricksCredentials(host=self.host, token=self.token, client_id=self.client_id,
                                     client_secret=self.client_secret, profile=self.profile)

    def settings(self) -> DatabricksSettings:
        """Polling, waiting and retry bounds."""
        return DatabricksSettings(
            poll_seconds=self.poll_seconds, max_poll_seconds=self.max_poll_seconds,
            wait_active_seconds=self.wait_active_seconds, retry_timeout_seconds=self.retry_timeout_seconds,
            reconnect_seconds=self.reconnect_seconds, connect_seconds=self.connect_seconds,
            unknown_state_seconds=self.unknown_state_seconds,
        )


def default_engine_resource(env: Mapping[str, str]) -> PipelinesEngineResource:
    """The engine of the default code location, from its environment `env`.

    `ETL_ASSETS_ENGINE` (`local`, the default, or `databricks`) picks the engine;
    `ETL_ASSETS_HOME` names the local engine's home; `ETL_ASSETS_WARM_SPARK=0` turns the warm Spark
    server off; `ETL_ASSETS_SPARK_MASTER` names the
    Spark master it runs on (default local[*]); `ETL_ASSETS_DATABRICKS_*_SECONDS`
    and `ETL_ASSETS_LANDING_VOLUME` set the Databricks engine's bounds and landing volume.
    Code locations of your own pass a resource to `build_definitions` instead.

    >>> default_engine_resource({"ETL_ASSETS_ENGINE": "databricks"}).engine_name
    'databricks'
    """
    name = (env.get(ENGINE_ENV_VAR) or "local").strip().lower() or "local"
    if name == "local":
        warm = env.get("ETL_ASSETS_WARM_SPARK", "1").strip().lower() not in ("0", "false", "no", "off")
        return LocalPipelinesResource(home=env.get("ETL_ASSETS_HOME") or None, warm_spark=warm,
                                      master=env.get("ETL_ASSETS_SPARK_MASTER", "").strip() or None)
    if name == "databricks":
        settings = DatabricksSettings.from_env(env)
        fields: dict[str, Any] = {k: getattr(settings, k) for k in (
            "poll_seconds", "max_poll_seconds", "wait_active_seconds", "retry_timeout_seconds", "reconnect_seconds",
            "connect_seconds", "unknown_state_seconds")}
        return DatabricksPipelinesResource(landing_volume=env.get("ETL_ASSETS_LANDING_VOLUME") or None,
                                           warehouse_id=env.get("ETL_ASSETS_DATABRICKS_WAREHOUSE_ID") or None, **fields)
    raise ConfigError([ConfigProblem(
        "environment", None, f"{ENGINE_ENV_VAR}={name!r} names no engine",
        hint="set it to local or databricks, or pass engine= to build_definitions")])
