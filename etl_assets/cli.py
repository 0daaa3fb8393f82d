"""The `etl-assets` command: validate the config and plan what a selection runs.

Data goes to stdout, diagnostics to stderr. A domain error prints one `Error:` block and exits
1; set ETL_ASSETS_DEBUG=1 for the traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from etl_assets import __version__
from etl_assets.engines.base import ENGINE_NAMES, Engine
from etl_assets.errors import ConfigError, ConfigProblem, EtlAssetsError
from etl_assets.project.config import ProjectConfig
from etl_assets.project.graph import TableGraph
from etl_assets.project.load import CONFIG_ENV_VAR, load_config


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `etl-assets` console script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except EtlAssetsError as exc:
        if os.environ.get("ETL_ASSETS_DEBUG"):
            raise
        _error(str(exc))
        return 1
    except OSError as exc:  # the file system refused: say which file and why
        if os.environ.get("ETL_ASSETS_DEBUG"):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        _error(f"{where}{exc.strerror or exc}; check that the path exists and is writable "
               "(ETL_ASSETS_HOME sets where local state goes)")
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etl-assets", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"etl-assets {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check config.yml (and schedules against the asset graph)")
    _config_option(validate)
    validate.add_argument("--dry-run", action="store_true",
                          help="then ask each pipeline to analyze its tables without running them (Databricks: a "
                               "validate_only update; local: what spark-pipelines dry-run does)")
    validate.add_argument("--select", metavar="TABLES", help="comma-separated tables for --dry-run (default: all)")
    validate.add_argument("--engine", choices=ENGINE_NAMES, help="engine of --dry-run (default: $ETL_ASSETS_ENGINE or local)")
    validate.add_argument("--bundle-summary", metavar="PATH",
                          help="with --dry-run on databricks: find each pipeline by the id the deployed bundle gives it "
                               "(the output of `databricks bundle summary -t TARGET --output json`; - reads stdin), "
                               "whatever name prefix the target's mode adds")
    validate.set_defaults(run=_validate)

    refresh = commands.add_parser(
        "refresh", help="refresh tables through Dagster; recover: rebuild some, or reset streaming checkpoints")
    _config_option(refresh)
    refresh.add_argument("--select", metavar="TABLES", action="append", default=[],
                         help="comma-separated tables to refresh (default: the tables named below)")
    refresh.add_argument("--full-refresh", metavar="TABLES", action="append", default=[],
                         help="rebuild these tables (comma-separated or repeated); the others are refreshed as usual")
    refresh.add_argument("--reset-checkpoint", metavar="TABLES", action="append", default=[],
                         help="streaming tables whose checkpoints start over: they keep their rows and read their "
                              "whole source again")
    refresh.add_argument("--engine", choices=ENGINE_NAMES, help="engine (default: $ETL_ASSETS_ENGINE or local)")
    refresh.set_defaults(run=_refresh)

    plan = commands.add_parser("plan", help="print the tables a tag selection runs, in stages (a dry run)")
    _config_option(plan)
    plan.add_argument("--tags", required=True, help="comma-separated tags, e.g. daily,critical")
    plan.add_argument("--match", choices=("all", "any"), default="all",
                      help="all: tables with every tag (AND, default); any: with at least one (OR)")
    plan.add_argument("--upstream", action="store_true", help="also run everything the selection depends on")
    plan.add_argument("--downstream", action="store_true", help="also run everything depending on the selection")
    plan.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    plan.set_defaults(run=_plan)

    generate = commands.add_parser("generate-data", help="append example raw JSON files to the local landing folder")
    _config_option(generate)
    generate.add_argument("--rows", type=_count(1, 10_000_000), default=1000, help="rows per file (default: 1000)")
    generate.add_argument("--seed", type=int, default=42, help="same seed, same files (default: 42)")
    generate.add_argument("--landing", metavar="PATH", help="landing folder or volume (default: ETL_ASSETS_HOME/landing)")
    generate.set_defaults(run=_generate)

    explore = commands.add_parser("explore", help="profile the raw landing files; exit 1 if a blocking check fails")
    _config_option(explore)
    explore.add_argument("--landing", metavar="PATH", help="landing folder or volume (default: ETL_ASSETS_HOME/landing)")
    explore.set_defaults(run=_explore)

    show = commands.add_parser("show", help="print a local table's rows")
    _config_option(show)
    show.add_argument("table", help="a table name from config.yml")
    show.add_argument("--limit", type=_count(0, 1_000_000_000), default=20, help="rows to print (default: 20)")
    show.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format")
    show.set_defaults(run=_show)

    stop = commands.add_parser("stop-spark", help="stop the warm local Spark server of this project")
    _config_option(stop)
    stop.set_defaults(run=_stop_spark)
    return parser


def _count(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: give a number from {low} to {high:,}")
        return value
    return parse


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", help="config file (default: $ETL_ASSETS_CONFIG or ./config.yml)")


def _load(args: argparse.Namespace) -> ProjectConfig:
    """The config `--config` names, else $ETL_ASSETS_CONFIG's, else ./config.yml."""
    return load_config(args.config or os.environ.get(CONFIG_ENV_VAR) or None)


def _home_setting() -> str | None:
    """$ETL_ASSETS_HOME: the local engine's state folder (default: .etl_assets/ in the project folder)."""
    return os.environ.get("ETL_ASSETS_HOME") or None


def _validate(args: argparse.Namespace) -> int:
    from etl_assets.project.bundle import BUNDLE_FILE, check_bundle, check_code, resource_fields_checkable
    from etl_assets.project.conditions import check_conditions
    from etl_assets.project.declared import declaration_problems

    config = _load(args)
    problems = (check_code(config) + declaration_problems(config) + check_conditions(config) + check_bundle(config)
                + _schedule_problems(config)
                + _databricks_cli(config))
    if (config.root / BUNDLE_FILE).is_file() and not resource_fields_checkable():
        print("note: databricks-bundles is not installed; bundle resource fields were not checked "
              "(pip install 'etl-assets[deploy]')", file=sys.stderr)
    if problems:
        raise ConfigError(problems)
    bundle = "and databricks.yml " if (config.root / BUNDLE_FILE).is_file() else ""
    print(
        f"{config.path.name} {bundle}OK: {len(config.tables)} tables in {len(config.pipelines)} pipeline(s), "
        f"{len(config.schedules)} schedule(s)"
    )
    return _dry_run(config, args) if args.dry_run else 0


def _dry_run(config: ProjectConfig, args: argparse.Namespace) -> int:
    """Each pipeline analyzes its selected tables without running them; exit 1 if one fails."""
    from etl_assets.engines.base import RefreshRequest
    from etl_assets.engines.events import Log, RunFinished, TableFailed

    wanted = [t.strip() for t in (args.select or "").split(",") if t.strip()] or list(config.table_names)
    unknown = [t for t in wanted if t not in config.table_names]
    if unknown:
        raise ConfigError([ConfigProblem(config.path.name, None, f"--select names no table of config: "
                                         f"{', '.join(unknown)}")])
    name = args.engine or os.environ.get("ETL_ASSETS_ENGINE") or "local"
    pipelines = list(config.pipelines.values())
    if args.bundle_summary:
        if name != "databricks":
            raise ConfigError([ConfigProblem("command line", None, "--bundle-summary names deployed Databricks "
                                             f"pipelines, and the dry run's engine is {name}",
                                             hint="add --engine databricks")])
        pipelines = _deployed(config, args.bundle_summary)
    engine = _engine(name)
    failed = 0
    for pipeline in pipelines:
        tables = [t.name for t in config.tables_of(pipeline.key) if t.name in wanted]
        if not tables:
            continue
        request = RefreshRequest(config, pipeline, tables, validate_only=True)
        bad: dict[str, str] = {}
        finished: RunFinished | None = None
        for event in engine.refresh(request):
            if isinstance(event, TableFailed):
                bad[event.table] = event.message
            elif isinstance(event, RunFinished):
                finished = event
            elif isinstance(event, Log) and event.level == "error":
                print(f"  {event.message}", file=sys.stderr)
        if finished is not None and finished.succeeded and not bad:
            print(f"pipeline '{pipeline.name}' ({name} dry run): analysis OK: {', '.join(tables)}")
            continue
        failed += 1
        detail = finished.detail if finished is not None else "no end reported"
        print(f"pipeline '{pipeline.name}' ({name} dry run, {detail}): analysis failed", file=sys.stderr)
        for table in tables:
            if table in bad:
                said = bad[table] or "failed to resolve"
                print(f"  {said if said.startswith(table + ':') else f'{table}: {said}'}", file=sys.stderr)
        if finished is not None and finished.error_text:
            print(finished.error_text, file=sys.stderr)
    return 1 if failed else 0


def _names(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(t.strip() for v in values for t in v.split(",") if t.strip()))


def _refresh(args: argparse.Namespace) -> int:
    """Materialize the tables through Dagster (the run and its materializations are recorded in
    $DAGSTER_HOME when set), with each pipeline step's recovery run config."""
    from etl_assets.project.recovery import FULL_REFRESH_TABLES, RESET_CHECKPOINT_TABLES, recovery_problems
    from etl_assets.project.validation import did_you_mean

    config = load_config(args.config)
    full, reset = _names(args.full_refresh), _names(args.reset_checkpoint)
    selected = list(dict.fromkeys([*_names(args.select), *full, *reset]))
    if not selected:
        raise ConfigError([ConfigProblem("command line", None, "no table to refresh",
                                         hint="name them with --select, --full-refresh or --reset-checkpoint")])
    unknown = [t for t in selected if t not in config.table_names]
    if unknown:
        raise ConfigError([ConfigProblem(config.path.name, None, f"no table '{t}' in config",
                                         hint=did_you_mean(t, config.table_names)) for t in unknown])
    graph = TableGraph(config)
    ops: dict[str, dict[str, object]] = {}
    problems = []
    for key, tables in graph.updates(selected):
        step_full = [t for t in full if t in tables]
        step_reset = [t for t in reset if t in tables]
        problems += recovery_problems(config, key, tables, step_full, step_reset)
        if step_full or step_reset:
            ops[key] = {"config": {FULL_REFRESH_TABLES: step_full, RESET_CHECKPOINT_TABLES: step_reset}}
    if problems:
        raise ConfigError(problems)

    from dagster import DagsterInstance, materialize

    from etl_assets.dagster.assets import build_table_assets
    from etl_assets.dagster.resources import ENGINE_RESOURCE_KEY, default_engine_resource
    from etl_assets.dagster.translator import TableTranslator

    env = dict(os.environ)
    if args.engine:
        env["ETL_ASSETS_ENGINE"] = args.engine
    resource = default_engine_resource(env)
    keys = TableTranslator().asset_keys(config)
    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    result = materialize(build_table_assets(config), instance=instance, selection=[keys[t] for t in selected],
                         run_config={"ops": ops}, resources={ENGINE_RESOURCE_KEY: resource}, raise_on_error=False)
    names = {key: name for name, key in keys.items()}
    for event in result.get_asset_materialization_events():
        table = names.get(event.materialization.asset_key, event.materialization.asset_key.to_user_string())
        rows = event.materialization.metadata.get("rows_written")
        print(f"{table}: refreshed ({'rows written: ' + str(rows.value) if rows is not None else 'rows not reported'})")
    if result.success:
        print(f"run {result.run_id}: {len(selected)} table(s) refreshed on {resource.engine_name}")
        return 0
    for failure in result.get_step_failure_events():
        error = failure.step_failure_data.error
        text = error.message.strip() if error else "failed"
        cause = error.cause if error else None
        _error(f"step {failure.step_key}: {text}" + (f"\n{cause.message.strip()}" if cause else ""))
    return 1


def _deployed(config: ProjectConfig, source: str) -> list:
    """The config pipelines with the ids a deployed bundle gives them (`databricks bundle summary
    --output json`: `resources.pipelines.<key>.id`, matched by resource key, else by name)."""
    where = "stdin" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        summary = json.loads(text)
    except ValueError as exc:
        raise ConfigError([ConfigProblem(where, None, f"is not the JSON of `databricks bundle summary --output json`: "
                                                      f"{exc}")]) from None
    found = (summary.get("resources") or {}).get("pipelines") or {} if isinstance(summary, dict) else {}
    target = ((summary.get("bundle") or {}).get("target") if isinstance(summary, dict) else None) or "?"
    deployed = []
    problems = []
    for pipeline in config.pipelines.values():
        entry = found.get(pipeline.key) or next(
            (e for e in found.values() if isinstance(e, dict) and e.get("name") == pipeline.name), None)
        pipeline_id = entry.get("id") if isinstance(entry, dict) else None
        if not pipeline_id:
            said = "has no id (deploy the target first: databricks bundle deploy -t TARGET)" if entry else "is missing"
            problems.append(ConfigProblem(where, None, f"pipeline '{pipeline.key}' of {config.path.name} {said} in the "
                                                       f"summary of target '{target}'"))
            continue
        deployed.append(pipeline.model_copy(update={"id": str(pipeline_id)}))
    if problems:
        raise ConfigError(problems)
    return deployed


def _engine(name: str) -> Engine:
    if name == "databricks":
        from etl_assets.engines.databricks.settings import DatabricksSettings
        from etl_assets.engines.databricks.updates import DatabricksEngine

        return DatabricksEngine(settings=DatabricksSettings.from_env(os.environ))
    from etl_assets.engines.local.engine import LocalEngine

    return LocalEngine(home=_home_setting())


def _databricks_cli(config: ProjectConfig) -> list:
    """`databricks bundle validate`, where the Databricks CLI is installed."""
    import shutil
    import subprocess

    from etl_assets.errors import ConfigProblem

    cli = shutil.which("databricks")
    if cli is None or not (config.root / "databricks.yml").is_file():
        return []
    result = subprocess.run([cli, "bundle", "validate"], cwd=config.root, capture_output=True, text=True)
    if result.returncode == 0:
        return []
    output = (result.stderr or result.stdout).strip().splitlines()
    return [ConfigProblem("databricks.yml", None, f"databricks bundle validate failed: {line}") for line in output[-10:]]


def _schedule_problems(config: ProjectConfig) -> list:
    """With Dagster installed, judge each schedule's selection on the real asset graph."""
    try:
        from dagster import Definitions
    except ImportError:
        print("note: Dagster is not installed; schedule selections were not checked "
              "(pip install 'etl-assets[dagster]')", file=sys.stderr)
        return []
    from etl_assets.dagster.assets import build_table_assets
    from etl_assets.dagster.resources import ENGINE_RESOURCE_KEY, LocalPipelinesResource
    from etl_assets.dagster.schedules import check_schedules

    # The engine does not change the asset graph; any resource satisfies the assets' need.
    assets = build_table_assets(config)
    graph = Definitions(assets=assets, resources={ENGINE_RESOURCE_KEY: LocalPipelinesResource()}).resolve_asset_graph()
    return check_schedules(config, graph)


def _plan(args: argparse.Namespace) -> int:
    config = _load(args)
    graph = TableGraph(config)
    tags = [t.strip() for t in args.tags.split(",") if t.strip()]
    selected = graph.select_by_tags(tags, args.match)
    if not selected:
        known = sorted({tag for t in config.tables for tag in t.tags})
        joiner = " and " if args.match == "all" else " or "
        raise EtlAssetsError(
            f"no table has tags {joiner.join(tags) or '(none given)'}; known tags: {', '.join(known)}"
        )
    if args.upstream:
        selected = graph.upstream_closure(selected)
    if args.downstream:
        selected = graph.downstream_closure(selected)
    stages = graph.stages(selected)
    updates = graph.updates(selected)
    if args.format == "json":
        print(json.dumps({
            "tags": tags,
            "match": args.match,
            "tables": graph.execution_order(selected),
            "stages": stages,
            "updates": [
                {"pipeline": key, "name": config.pipelines[key].name, "refresh_selection": tables}
                for key, tables in updates
            ],
        }, indent=2))
        return 0
    joiner = " AND " if args.match == "all" else " OR "
    print(f"{len(selected)} of {len(config.tables)} tables selected by tags {joiner.join(tags)}")
    width = max(len(n) for n in selected)
    for number, stage in enumerate(stages, 1):
        print(f"\nStage {number}")
        for name in stage:
            table = config.table(name)
            print(f"  {name:<{width}}  {table.layer:<6}  {table.pipeline}")
    print("\nPipeline updates, in order:")
    for number, (key, tables) in enumerate(updates, 1):
        print(f"  {number}. {key} ({config.pipelines[key].name}): refresh_selection = [{', '.join(tables)}]")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from etl_assets.engines.local.home import LocalHome
    from etl_assets.example.datagen import generate

    landing = Path(args.landing) if args.landing else LocalHome.for_project(_load(args).root, _home_setting()).landing
    for written in generate(landing, rows=args.rows, seed=args.seed):
        print(f"{written.path}: {written.rows} rows ({written.malformed} malformed)")
    return 0


def _explore(args: argparse.Namespace) -> int:
    from etl_assets.engines.local.home import LocalHome
    from etl_assets.example.datagen import DATASETS
    from etl_assets.example.exploration import explore

    landing = Path(args.landing) if args.landing else LocalHome.for_project(_load(args).root, _home_setting()).landing
    blocking = []
    for dataset in DATASETS:
        for finding in explore(landing / dataset, dataset):
            mark = "ok  " if finding.passed else ("FAIL" if finding.blocking else "warn")
            figures = ", ".join(f"{k}={v}" for k, v in finding.figures.items())
            print(f"{mark}  {dataset:<10} {finding.check:<17} {figures}")
            if finding.blocking and not finding.passed:
                blocking.append(f"{dataset}: {finding.check}")
    if blocking:
        raise EtlAssetsError(f"landing data at {landing} failed: {', '.join(blocking)}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from etl_assets.engines.local.home import LocalHome
    from etl_assets.engines.local.tables import read_rows
    from etl_assets.project.validation import did_you_mean

    config = _load(args)
    if args.table not in config.table_names:
        hint = did_you_mean(args.table, config.table_names) or f"tables: {', '.join(config.table_names)}"
        raise EtlAssetsError(f"no table '{args.table}' in {config.path.name} ({hint})")
    columns, rows = read_rows(LocalHome.for_project(config.root, _home_setting()).table_location(args.table), args.limit)
    if args.format == "json":
        print(json.dumps(rows, indent=2, default=str))
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        _print_table(columns, rows)
    return 0


def _stop_spark(args: argparse.Namespace) -> int:
    from etl_assets.engines.local.home import LocalHome
    from etl_assets.engines.local.runner import stop_warm_spark

    home = LocalHome.for_project(_load(args).root, _home_setting())
    print("stopped the warm Spark server" if stop_warm_spark(home) else f"no warm Spark server running for {home.root}")
    return 0


def _print_table(columns: list[str], rows: list[dict]) -> None:
    cells = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def _error(message: str) -> None:
    red, reset = ("\033[31m", "\033[0m") if sys.stderr.isatty() else ("", "")
    print(f"{red}Error:{reset} {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
