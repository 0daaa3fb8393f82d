"""Raw landing data as assets: one per files source, the example generator, exploration checks.

The seed job's first two tasks ("data creation" and "exploration") as Dagster assets and
checks upstream of bronze. A source whose config says `example_data: true` (the example's
customers and orders) can be materialized, which appends a file of generated rows; every other
source is an external asset, updated by its files' arrival (the landing sensor).
"""

# No `from __future__ import annotations`: Dagster reads the `config` annotation at definition
# time and cannot resolve it from a string inside a closure.
from collections.abc import Iterator, Sequence
from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    multi_asset,
    multi_asset_check,
)

from etl_assets.dagster.resources import PipelinesEngineResource
from etl_assets.dagster.translator import TableTranslator
from etl_assets.errors import EngineUnavailableError
from etl_assets.example.datagen import DATASETS, generate
from etl_assets.example.exploration import KNOWN, MAX_NULL_KEY_SHARE, MAX_UNPARSEABLE_SHARE, explore
from etl_assets.project.config import ProjectConfig

LANDING_GROUP = "landing"


class ExampleDataConfig(Config):
    """Run config of the example data generator."""

    rows: int = 1000
    seed: int = 42


def build_landing_definitions(config: ProjectConfig, translator: TableTranslator | None = None
                              ) -> tuple[list[AssetsDefinition | AssetSpec], list[AssetChecksDefinition]]:
    """(assets, asset checks) for every files source in config; keys from the translator.

    >>> assets, checks = build_landing_definitions(load_config())      # doctest: +SKIP
    """
    translator = translator or TableTranslator()
    paths = list(dict.fromkeys(t.source.path for t in config.tables if t.source is not None))
    if not paths:
        return [], []
    generated = [p for p in paths if _asks_example_data(config, p)]
    assets: list[AssetsDefinition | AssetSpec] = [_spec(config, translator, p) for p in paths if p not in generated]
    if generated:
        assets.append(_example_data(config, translator, generated))
    return assets, [_exploration(config, translator, p) for p in paths]


def _asks_example_data(config: ProjectConfig, path: str) -> bool:
    """Whether config asks the example generator for this source (validation allows it only for
    the generator's own datasets)."""
    return path in DATASETS and any(t.source is not None and t.source.path == path and t.source.example_data
                                    for t in config.tables)


def _spec(config: ProjectConfig, translator: TableTranslator, path: str) -> AssetSpec:
    readers = [t.name for t in config.tables if t.source is not None and t.source.path == path]
    return AssetSpec(
        key=translator.get_landing_key(path),
        group_name=LANDING_GROUP,
        kinds={"json"},
        description=f"Raw files under landing/{path}, read by {', '.join(readers)}",
        metadata={"landing_path": path},
    )


def _local_landing(config: ProjectConfig, engine: PipelinesEngineResource, what: str) -> Path:
    running = engine.get_engine()
    if not running.has_local_landing:
        raise EngineUnavailableError(
            f"{what} reads and writes the local landing folder; on the {running.name} engine the landing "
            "data lives in the workspace volume, so run the bundle's data generation and exploration tasks there"
        )
    return running.local_landing(config)


def _example_data(config: ProjectConfig, translator: TableTranslator, paths: Sequence[str]) -> AssetsDefinition:
    keys = {p: translator.get_landing_key(p) for p in paths}

    @multi_asset(
        name="example_data",
        specs=[_spec(config, translator, p) for p in paths],
        can_subset=True,
        description="Appends one new file of example raw data per selected source (the CDC tutorial's generator).",
    )
    def example_data(context: AssetExecutionContext, config: ExampleDataConfig,
                     engine: PipelinesEngineResource) -> Iterator[MaterializeResult]:
        landing = _local_landing(project, engine, "example data generation")
        selected = tuple(p for p in paths if keys[p] in context.selected_asset_keys)
        for written in generate(landing, rows=config.rows, seed=config.seed, datasets=selected):
            context.log.info(f"wrote {written.rows} rows to {written.path}")
            yield MaterializeResult(
                asset_key=keys[written.path.parent.name],
                metadata={
                    "file": MetadataValue.path(str(written.path)),
                    "rows_written": written.rows,
                    "malformed_rows_written": written.malformed,
                    "seed": config.seed,
                },
            )

    project = config
    return example_data


def _exploration(config: ProjectConfig, translator: TableTranslator, path: str) -> AssetChecksDefinition:
    key = translator.get_landing_key(path)
    known = KNOWN.get(path)
    specs = [
        AssetCheckSpec("row_count", asset=key, blocking=True, description="the landing folder has rows"),
        AssetCheckSpec("unparseable_rows", asset=key, blocking=True,
                       description=f"at most {MAX_UNPARSEABLE_SHARE:.0%} of lines fail to parse as JSON"),
    ]
    if known:
        specs.append(AssetCheckSpec("null_key_share", asset=key,
                                    description=f"at most {MAX_NULL_KEY_SHARE:.0%} of rows lack {known.key}"))
    if known and known.operation:
        specs.append(AssetCheckSpec("operation_mix", asset=key,
                                    description="APPEND, UPDATE and DELETE events all occur"))

    @multi_asset_check(specs=specs, name=f"explore_{key.path[-1]}", can_subset=True)
    def explore_landing(context: AssetCheckExecutionContext,
                        engine: PipelinesEngineResource) -> Iterator[AssetCheckResult]:
        landing = _local_landing(project, engine, "exploration")
        selected = {k.name for k in context.selected_asset_check_keys}
        for finding in explore(landing / path, path):
            if finding.check in selected:
                yield AssetCheckResult(
                    asset_key=key, check_name=finding.check, passed=finding.passed, metadata=finding.figures,
                    severity=AssetCheckSeverity.ERROR if finding.blocking else AssetCheckSeverity.WARN,
                )

    project = config
    return explore_landing
