"""Definitions-load time of etl_assets side by side with dagster-dbt on the same graph.

    .venv/bin/python bench/dagster_dbt_side_by_side.py [--tables 10000] [--repeat 3] [--workdir DIR]

Generates bench/gen_config.py's project (10 pipelines, 3 layers, ~2 deps per table, 20 tags,
5 schedules) and a dbt project of the same graph: one model per table with the same name (so
the same asset key), its `ref`s the table's `depends_on`, its dbt tags the table's tags, its
Dagster group the table's layer (`meta.dagster.group`), and one `not_null` test per model (the
one rule each generated table declares, so both sides have one asset check per table). `dbt
parse` (dbt-core with dbt-duckdb, the lightest adapter) writes its manifest once.

dagster-dbt, dbt-core and dbt-duckdb are installed into `.venv-dbt-bench` (created here, next to
`.venv`; not a dependency of etl_assets), with the Dagster release of this interpreter.

Then, each in a fresh process, median of --repeat runs, the variants taking turns:

- dagster-dbt: `@dbt_assets(manifest=...)` and the 5 schedules as dagster-dbt users make them
  (`build_schedule_from_dbt_selection`, the same selections in dbt's syntax), with a
  `DbtCliResource`;
- dagster-dbt, no schedules: the same without schedules;
- etl_assets: `build_definitions` on the generated config.yml, its code-facts cache filled
  (a later load of an unchanged project).

Each figure is the integration's import + Definitions + the asset graph + every job resolved,
as `dagster definitions validate` and a code server do (bench/definitions_load.py's measure);
importing Dagster itself is reported apart. Wall and CPU seconds of each process are printed
with ratios to dagster-dbt's: on a shared machine CPU seconds are the robust figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from definitions_load import PYTHONS, VARIANTS, measure, print_header, print_results, run_once  # noqa: E402
from gen_config import generate  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BENCH_VENV = REPO / ".venv-dbt-bench"
# dagster-dbt's release for each Dagster 1.13 release is 0.29 with the same patch number.
DBT_PACKAGES = ["dbt-core==1.11.16", "dbt-duckdb==1.11.1"]

# gen_config.SCHEDULES' selections in dbt's selection syntax (`,` intersects, a space unites).
# Every generated table carries its layer as a tag, so `group:gold` is `tag:gold` in dbt.
DBT_SELECTIONS = {
    "tag:t0 and tag:t1": "tag:t0,tag:t1",
    "tag:t2": "tag:t2",
    "group:gold": "tag:gold",
    "tag:t3 or tag:t4": "tag:t3 tag:t4",
    "tag:t5": "tag:t5",
}

_DBT_ASSETS = """
from pathlib import Path
from dagster_dbt import DbtCliResource, build_schedule_from_dbt_selection, dbt_assets
project_dir = Path(config_path).parent / "dbt"
@dbt_assets(manifest=project_dir / "target" / "manifest.json")
def bench_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream()
resources = {"dbt": DbtCliResource(project_dir=str(project_dir), dbt_executable=str(Path(sys.executable).parent / "dbt"))}
"""

VARIANTS["dagster-dbt"] = _DBT_ASSETS + """
import json
schedules = [build_schedule_from_dbt_selection([bench_dbt_assets], job_name=f"{name}_job", cron_schedule=cron,
                                               dbt_select=select, schedule_name=name)
             for name, cron, select in json.loads((project_dir / "schedules.json").read_text())]
defs = dg.Definitions(assets=[bench_dbt_assets], schedules=schedules, resources=resources)
"""
VARIANTS["dagster-dbt, no schedules"] = _DBT_ASSETS + """
defs = dg.Definitions(assets=[bench_dbt_assets], resources=resources)
"""
DBT_VARIANTS = ["dagster-dbt", "dagster-dbt, no schedules"]

# What each side's definitions hold, to check they are the same graph: per asset its deps, group,
# own tags (Dagster's `dagster/` ones apart) and number of checks; per schedule the assets it runs.
_SHAPE = """
def shape(graph, schedules):
    assets = {k.to_user_string(): [sorted(p.to_user_string() for p in n.parent_keys), n.group_name,
                                   sorted(t for t in n.tags if not t.startswith("dagster/")), len(n.check_keys)]
              for k in graph.get_all_asset_keys() if (n := graph.get(k)).is_materializable}
    runs = {name: sorted(k.to_user_string() for k in selection.resolve(graph)) for name, selection in schedules}
    print(json.dumps({"assets": assets, "schedules": runs}))
"""
SHAPES = {
    "dagster-dbt": VARIANTS["dagster-dbt"] + _SHAPE + """
shape(defs.resolve_asset_graph(), [(s.name, s.job.selection) for s in schedules])
""",
    "etl_assets": """
import json
from etl_assets.dagster.definitions import build_definitions
from etl_assets.dagster.schedules import parse_selection
from etl_assets.project.load import load_config
config = load_config(config_path)
defs = build_definitions(config)
""" + _SHAPE + """
shape(defs.resolve_asset_graph(), [(s.name, parse_selection(s.selection)) for s in config.schedules])
""",
}
SIDE_BY_SIDE = [*DBT_VARIANTS, "etl_assets"]


def bench_venv() -> Path:
    """The interpreter of `.venv-dbt-bench`, with dagster-dbt for this interpreter's Dagster."""
    import dagster

    version = dagster.__version__
    major_minor, patch = version.rsplit(".", 1)
    if major_minor != "1.13":
        raise SystemExit(f"this bench pins dagster-dbt for Dagster 1.13, not {version}")
    packages = [f"dagster=={version}", f"dagster-dbt==0.29.{patch}", *DBT_PACKAGES]
    python = BENCH_VENV / "bin" / "python"
    stamp = BENCH_VENV / ".packages"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    if not stamp.exists() or stamp.read_text() != "\n".join(packages):
        print(f"Installing {', '.join(packages)} into {BENCH_VENV}...", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages],
                       check=True)
        stamp.write_text("\n".join(packages))
    return python


def write_dbt_project(config: Path) -> Path:
    """The dbt project of the generated config's graph, under `<project>/dbt`; its folder."""
    doc = yaml.load(config.read_text(), Loader=yaml.CSafeLoader)
    root = config.parent / "dbt"
    if root.exists():
        shutil.rmtree(root)
    layers = sorted({t["layer"] for t in doc["tables"]})
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(yaml.safe_dump({
        "name": "bench", "version": "1.0", "profile": "bench", "config-version": 2,
        "model-paths": ["models"],
        "models": {"bench": {layer: {"+meta": {"dagster": {"group": layer}}} for layer in layers}},
    }, sort_keys=False))
    (root / "profiles.yml").write_text(yaml.safe_dump({
        "bench": {"target": "dev", "outputs": {"dev": {"type": "duckdb", "path": str(root / "bench.duckdb")}}}}))
    models: dict[str, list[dict]] = {layer: [] for layer in layers}
    for table in doc["tables"]:
        name, layer = table["name"], table["layer"]
        sources = [f"select id from {{{{ ref('{dep}') }}}}" for dep in table["depends_on"]]
        body = "\nunion all\n".join(sources) or "select 1 as id"
        (root / "models" / layer).mkdir(exist_ok=True)
        (root / "models" / layer / f"{name}.sql").write_text(
            f"{{{{ config(tags={sorted(table['tags'])!r}) }}}}\n{body}\n")
        models[layer].append({"name": name, "columns": [{"name": "id", "data_tests": ["not_null"]}]})
    for layer, entries in models.items():
        (root / "models" / layer / "schema.yml").write_text(yaml.safe_dump({"version": 2, "models": entries},
                                                                           sort_keys=False))
    schedules = [[s["name"], s["cron"], DBT_SELECTIONS[s["selection"]]] for s in doc["schedules"]]
    (root / "schedules.json").write_text(json.dumps(schedules))
    return root


def check_same_graph(config: Path, python: Path) -> None:
    """Both sides' definitions hold the same assets, deps, groups, tags, checks and schedules."""
    seen = {}
    for side, code in SHAPES.items():
        interpreter = str(python) if side == "dagster-dbt" else sys.executable
        out = subprocess.run([interpreter, "-c", "import dagster as dg, json, sys\nconfig_path = sys.argv[1]\n" + code,
                              str(config)], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"loading {side} failed:\n{out.stderr}")
        seen[side] = json.loads(out.stdout.strip().splitlines()[-1])
    for part in ("assets", "schedules"):
        dbt, ours = seen["dagster-dbt"][part], seen["etl_assets"][part]
        differ = sorted(k for k in dbt.keys() | ours.keys() if dbt.get(k) != ours.get(k))
        if differ:
            raise SystemExit(f"the two projects differ in {len(differ)} {part}, e.g. {differ[0]}: "
                             f"dagster-dbt {dbt.get(differ[0])}, etl_assets {ours.get(differ[0])}")
    print(f"Same graph on both sides: {len(seen['etl_assets']['assets'])} assets, "
          f"{len(seen['etl_assets']['schedules'])} schedules selecting the same assets.", file=sys.stderr)


def dbt_parse(python: Path, project_dir: Path) -> None:
    """`dbt parse` of the project: its manifest at target/manifest.json."""
    dbt = python.parent / "dbt"
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    subprocess.run([str(dbt), "parse", "--no-partial-parse", "--quiet", "--project-dir", str(project_dir),
                    "--profiles-dir", str(project_dir)], check=True, env=env)
    if not (project_dir / "target" / "manifest.json").exists():
        raise SystemExit(f"dbt parse wrote no manifest under {project_dir / 'target'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="keep the generated projects here (default: a temporary folder)")
    args = parser.parse_args()
    python = bench_venv()
    for variant in DBT_VARIANTS:
        PYTHONS[variant] = str(python)
    with tempfile.TemporaryDirectory() as tmp:
        config = generate((args.workdir or Path(tmp)) / f"p{args.tables}", args.tables)
        project_dir = write_dbt_project(config)
        dbt_parse(python, project_dir)
        check_same_graph(config, python)
        run_once("etl_assets", config)  # fills the project's code-facts cache
        results = measure(SIDE_BY_SIDE, config, args.repeat, code_rules=True)
    width = max(map(len, SIDE_BY_SIDE))
    print_header("dagster-dbt", width)
    print_results(args.tables, results, "dagster-dbt", width=width)


if __name__ == "__main__":
    main()
