"""How long building and validating the Dagster definitions takes for big configs.

    .venv/bin/python bench/definitions_load.py [--tables 1000 10000] [--repeat 3] [--code ldp|stub]
                                               [--variants "dagster floor" etl_assets] [--before REV]

For each size it generates a project (10 pipelines, 3 layers, ~2 deps per table, 20 tags,
5 schedules, a transformation file per table: see gen_config.py) and times, each in a fresh
process, median of --repeat runs:

- dagster floor: the same specs (key, deps, group, tags) and checks (one per table: the rule
  each generated file declares) as one plain multi-asset, no schedules: what Dagster itself
  needs for a graph of that size (the baseline);
- job per schedule: our assets with one asset job per schedule (the obvious design);
- etl_assets, 1st load: `build_definitions` as shipped (schedules name their assets per tick),
  with an empty code-facts cache: every transformation file is read and parsed;
- etl_assets: the same once the project's code-facts cache (`.etl_assets/cache/`) is filled,
  i.e. every later load of an unchanged project (a code server reloading, `dagster dev`);
- etl_assets @REV (with --before REV): that load with the package as git revision REV has it,
  so a change is measured against its parent in the same run.

Each figure is load_config (where used) + Definitions + the asset graph + every job resolved,
as `dagster definitions validate` and a code server do. Importing Dagster is reported apart.
Wall seconds and CPU seconds of the process are both reported: on a shared machine the wall
clock mostly measures the neighbours, CPU time much less so. The variants run in turn within
each round (floor, ..., etl_assets, floor, ...), so a busy minute hits them all alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_config import CODE_STYLES, generate  # noqa: E402

_PRELUDE = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import dagster as dg
t_import = time.perf_counter() - t0
config_path = sys.argv[1]
start, start_cpu = time.perf_counter(), time.process_time()
"""

VARIANTS = {
    "dagster floor": """
import yaml
from etl_assets.project.config import LAYERS
doc = yaml.load(open(config_path), Loader=yaml.CSafeLoader)
specs = [dg.AssetSpec(t["name"], deps=t["depends_on"], group_name=t["layer"], tags={x: "" for x in t["tags"]})
         for t in doc["tables"]]
# The checks of the rules each generated file declares (see gen_config.py), when it declares them.
rule = {"bronze": "no_rescued_data", "silver": "valid_id", "gold": "valid_id"}
checks = [dg.AssetCheckSpec(rule[t["layer"]], asset=t["name"]) for t in doc["tables"]] if CODE_RULES else []
@dg.multi_asset(specs=specs, check_specs=checks, can_subset=True, name="all_tables")
def all_tables(context):
    pass
defs = dg.Definitions(assets=[all_tables])
""",
    "job per schedule": """
from etl_assets.project.load import load_config
from etl_assets.dagster.assets import build_table_assets
config = load_config(config_path)
assets = build_table_assets(config)
jobs = [dg.define_asset_job(f"{s.name}_job", selection=dg.AssetSelection.from_string(s.selection))
        for s in config.schedules]
schedules = [dg.ScheduleDefinition(name=s.name, cron_schedule=s.cron, job=j) for s, j in zip(config.schedules, jobs)]
from etl_assets.dagster.resources import LocalPipelinesResource
defs = dg.Definitions(assets=assets, schedules=schedules, resources={"engine": LocalPipelinesResource()})
""",
    "etl_assets, 1st load": """
import os, tempfile
# The default code location, which takes both variables (earlier revisions' build_definitions read them too).
os.environ["ETL_ASSETS_CODE_CACHE"] = os.path.join(tempfile.mkdtemp(), "code_facts.json")  # an empty cache
os.environ["ETL_ASSETS_CONFIG"] = str(config_path)
from etl_assets.definitions import defs
""",
    "etl_assets": """
from etl_assets.dagster.definitions import build_definitions
defs = build_definitions(config_path)
""",
}

_EPILOGUE = """
defs.get_repository_def().asset_graph
defs.resolve_all_job_defs()
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - start_cpu,
                  "import": t_import}))
"""

FLOOR = "dagster floor"


BEFORE: dict[str, Path] = {}  # variant name -> folder holding the package of an earlier revision
PYTHONS: dict[str, str] = {}  # variant name -> the interpreter it runs in (default: this one)


def export_revision(rev: str, into: Path) -> str:
    """The package as git revision `rev` has it, under `into`; the variant's name."""
    repo = Path(__file__).resolve().parent.parent
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(repo), "archive", rev, "etl_assets"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    name = f"etl_assets @{rev}"
    VARIANTS[name] = VARIANTS["etl_assets"]
    BEFORE[name] = into
    return name


def run_once(variant: str, config: Path, code_rules: bool = True) -> dict[str, float]:
    """One load in a fresh process: wall seconds, CPU seconds, Dagster import seconds."""
    code = _PRELUDE + f"CODE_RULES = {code_rules}\n" + VARIANTS[variant] + _EPILOGUE
    env, cwd = None, None
    if variant in BEFORE:  # the earlier package first on the path, and no current one from the folder
        cwd = str(BEFORE[variant])
        env = {**os.environ, "PYTHONPATH": cwd}
    python = PYTHONS.get(variant, sys.executable)
    out = subprocess.run([python, "-c", code, str(config)], capture_output=True, text=True, env=env, cwd=cwd)
    if out.returncode != 0:
        raise SystemExit(f"variant '{variant}' failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(variants: list[str], config: Path, repeat: int, code_rules: bool) -> dict[str, dict[str, float]]:
    """Per variant, the median of `repeat` loads of each figure; the variants take turns."""
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    for _ in range(repeat):
        for variant in variants:
            runs[variant].append(run_once(variant, config, code_rules))
    return {v: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for v, rs in runs.items()}


def print_header(baseline: str, width: int = 17) -> None:
    """The column titles of `print_results`, ratios against the variant called `baseline`."""
    ratio = f"x {baseline}"
    rw = max(7, len(ratio))
    print(f"{'tables':>7}  {'variant':<{width}} {'seconds':>8}  {ratio:>{rw}}  {'cpu s':>7}  {ratio:>{rw}}")


def print_results(count: int, results: dict[str, dict[str, float]], baseline: str, label: str | None = None,
                  width: int = 17) -> None:
    """One line per variant: wall and CPU seconds, each with its ratio to `baseline`'s (titled
    `label` in `print_header`, default the baseline's name)."""
    base, rw = results[baseline], max(7, len(label or baseline) + 2)
    for variant, r in results.items():
        print(f"{count:>7}  {variant:<{width}} {r['seconds']:>8.2f}  {r['seconds'] / base['seconds']:>{rw}.2f}"
              f"  {r['cpu']:>7.2f}  {r['cpu'] / base['cpu']:>{rw}.2f}")
    print(f"{'':>7}  (import dagster: {base['import']:.2f} s, not included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--code", choices=CODE_STYLES, default="ldp", help="what each transformation file holds")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                        help="the variants to run (the Dagster floor always runs: it is the baseline)")
    parser.add_argument("--before", metavar="REV", help="also load with the package of git revision REV")
    args = parser.parse_args()
    print_header("floor")
    with tempfile.TemporaryDirectory() as tmp:
        before = [export_revision(args.before, Path(tmp) / "before")] if args.before else []
        variants = [v for v in VARIANTS if v in args.variants or v == FLOOR] + before
        for count in args.tables:
            config = generate(Path(tmp) / f"p{count}", count, code=args.code)
            for variant in ["etl_assets", *before]:
                if variant in variants:
                    run_once(variant, config)  # fills the project's code-facts cache
            results = measure(variants, config, args.repeat, args.code == "ldp")
            print_results(count, results, FLOOR, "floor")


if __name__ == "__main__":
    main()
