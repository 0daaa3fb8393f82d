"""The asset factory: one subsettable multi-asset per pipeline, one asset per table."""

# No `from __future__ import annotations` here: Dagster reads the op's `config` annotation
# at definition time and cannot resolve it from a string inside a closure.

from collections.abc import Iterator, Mapping, Sequence

from dagster import AssetCheckSpec, AssetExecutionContext, AssetKey, AssetsDefinition, Config, multi_asset
from pydantic import Field

from etl_assets.dagster.resources import PipelinesEngineResource
from etl_assets.dagster.results import DagsterResult, evaluated_checks, stream_results
from etl_assets.dagster.translator import TableTranslator
from etl_assets.engines.base import RefreshRequest
from etl_assets.engines.events import UpdateStarted
from etl_assets.project.config import Pipeline, ProjectConfig, Table
from etl_assets.project.graph import TableGraph
from etl_assets.project.recovery import check_recovery

UPDATE_TAG_PREFIX = "etl_assets/update."


class RefreshConfig(Config):
    """Run config of a pipeline's step: `full_refresh: true` rebuilds the selected tables;
    `full_refresh_tables` rebuilds only those of them; `reset_checkpoint_tables` makes those
    streaming tables read their whole source again into the rows they keep."""

    full_refresh: bool = Field(default=False, description="Rebuild every selected table of this pipeline")
    full_refresh_tables: list[str] = Field(
        default=[], description="Selected tables to rebuild (their data and checkpoints start over); the other "
                                "selected tables are refreshed as usual")
    reset_checkpoint_tables: list[str] = Field(
        default=[], description="Selected streaming tables whose checkpoints start over: they keep their rows and "
                                "read their whole source again")


def pipeline_op_name(pipeline: Pipeline) -> str:
    """The Dagster op (and multi-asset) name of a pipeline: its config key."""
    return pipeline.key


def pipeline_pool(pipeline: Pipeline) -> str:
    """The concurrency pool that keeps two of our updates off one pipeline."""
    return f"etl_assets/{pipeline.key}"


def build_table_assets(
    config: ProjectConfig,
    translator: TableTranslator | None = None,
    graph: TableGraph | None = None,
) -> list[AssetsDefinition]:
    """One subsettable multi-asset per pipeline holding an asset per table.

    >>> assets = build_table_assets(load_config())    # doctest: +SKIP
    >>> [a.node_def.name for a in assets]              # doctest: +SKIP
    ['customers_cdc', 'orders']
    """
    translator = translator or TableTranslator()
    graph = graph or TableGraph(config)
    keys = translator.asset_keys(config)
    return [
        _pipeline_asset(config, config.pipelines[key], translator, graph, keys)
        for key in graph.pipeline_order()
        if config.tables_of(key)
    ]


def _pipeline_asset(
    config: ProjectConfig,
    pipeline: Pipeline,
    translator: TableTranslator,
    graph: TableGraph,
    keys: Mapping[str, AssetKey],
) -> AssetsDefinition:
    tables = config.tables_of(pipeline.key)
    specs = [translator.spec_of(t, config) for t in tables]
    check_specs: list[AssetCheckSpec] = [
        translator.get_check_spec(t, e, keys[t.name]) for t in tables for e in t.expectations
    ]
    names_by_key = {keys[t.name]: t.name for t in tables}

    @multi_asset(
        name=pipeline_op_name(pipeline),
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        pool=pipeline_pool(pipeline),
        description=pipeline.description or f"Lakeflow Declarative Pipeline '{pipeline.name}'",
        op_tags={"etl_assets/pipeline": pipeline.key},
    )
    def _refresh(context: AssetExecutionContext, config: RefreshConfig,
                 engine: PipelinesEngineResource) -> Iterator[DagsterResult]:
        selected = graph.in_config_order(
            names_by_key[k] for k in context.selected_asset_keys if k in names_by_key
        )
        # Checks selected without their table (a check's "Execute") are evaluated on the table as
        # it is; an update with an empty selection would refresh the whole pipeline.
        unrefreshed = [t for t in project.tables_of(pipeline.key) if t.name not in selected]
        if not selected:
            yield from _checks_as_is(context, engine, project, pipeline, keys, unrefreshed)
            return
        check_recovery(project, pipeline.key, selected, config.full_refresh_tables, config.reset_checkpoint_tables)
        request = RefreshRequest(project, pipeline, selected, full_refresh=config.full_refresh,
                                 full_refresh_tables=config.full_refresh_tables,
                                 reset_checkpoint_tables=config.reset_checkpoint_tables)
        recovery = "".join(f"; {what}: {', '.join(names)}" for what, names in (
            ("full refresh of", config.full_refresh_tables), ("checkpoint reset of", config.reset_checkpoint_tables))
            if names)
        context.log.info(
            f"pipeline '{pipeline.name}': {'full refresh' if config.full_refresh else 'refresh'} of "
            f"{len(selected)} table(s): {', '.join(selected)}{recovery}"
        )

        def tag_update(started: UpdateStarted) -> None:
            # Lets the pipeline observer tell the updates our runs started apart.
            context.instance.add_run_tags(context.run.run_id, {f"{UPDATE_TAG_PREFIX}{started.pipeline}": started.update_id})

        yield from stream_results(
            engine.get_engine().refresh(request), request, keys, context.log,
            selected_checks=context.selected_asset_check_keys, on_update_started=tag_update,
        )
        yield from _checks_as_is(context, engine, project, pipeline, keys, unrefreshed)

    project = config
    return _refresh


def _checks_as_is(context: AssetExecutionContext, engine: PipelinesEngineResource, config: ProjectConfig,
                  pipeline: Pipeline, keys: Mapping[str, AssetKey],
                  candidates: Sequence[Table]) -> Iterator[DagsterResult]:
    """Results of the selected checks of `candidates` (tables the run does not refresh), each
    table's expectations evaluated on the table as it is."""
    checks = context.selected_asset_check_keys
    tables = [t for t in candidates if any(c.asset_key == keys[t.name] for c in checks)]
    if not tables:
        return
    runner = engine.get_engine()
    for table in tables:
        wanted = {c.name for c in checks if c.asset_key == keys[table.name]}
        expectations = [e for e in table.expectations if e.name in wanted]
        context.log.info(f"pipeline '{pipeline.name}': checks {', '.join(e.name for e in expectations)} of "
                         f"{table.name} evaluated on the table as it is; nothing is refreshed")
        quality = runner.evaluate_checks(config, table.name, expectations)
        yield from evaluated_checks(quality, config, keys, checks)
