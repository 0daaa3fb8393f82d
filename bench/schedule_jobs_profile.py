"""Where an asset job per schedule costs its load time: a profile of Dagster resolving them.

    .venv/bin/python bench/schedule_jobs_profile.py [--tables 10000] [--top 25]

Generates bench/gen_config.py's project (5 schedules) and loads it, each in a fresh process, in
ways that differ only in what the 5 schedules target (the assets, checks and sensors are
`build_definitions`'s in each):

- tick time: the schedules run the implicit asset job and name their assets at each tick
  (`build_definitions(..., job_per_schedule=False)`; what a project past 2,000 tables gets);
- target=selection: `ScheduleDefinition(target=<the config's selection string, parsed>)`, a job
  per schedule (`job_per_schedule=True`; what a project up to 2,000 tables gets);
- target=keys: `ScheduleDefinition(target=AssetSelection.assets(*keys))`, the keys computed
  beforehand from config.yml, so Dagster resolves no tag or group;
- define_asset_job: `define_asset_job(selection=AssetSelection.assets(*keys))` and a schedule of it;
- keys, no checks: target=keys with `.without_checks()`;
- floor, and floor, job per schedule: bench/definitions_load.py's Dagster floor (the same specs
  and checks as one plain multi-asset, no metadata), without and with
  `define_asset_job(selection=<the selection string>)` per schedule: what Dagster itself costs.

The last three add their schedules by `Definitions.merge` to `build_definitions`' own (tick
time), which builds the repository a second time: they are compared with that merge without
schedules ("tick time, merged").

It prints each one's CPU seconds (median of --repeat loads, no profiler) and the extra per
schedule against tick time, then runs target=selection and tick time once more under cProfile
and lists the Dagster functions whose cumulative time grew most, per schedule, as shares of
that growth (cProfile slows small calls down, so shares, not its seconds, carry over).
"""

from __future__ import annotations

import argparse
import json
import pstats
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from definitions_load import FLOOR, VARIANTS  # noqa: E402
from gen_config import SCHEDULES, generate  # noqa: E402

_LOAD = """
import gc, json, sys, time, warnings
warnings.simplefilter("ignore")
# build_definitions pauses the cycle collector while it builds; Definitions.merge and the floor
# would build without that pause, so it is off for the whole load in every kind alike.
gc.disable()
import dagster as dg
from etl_assets.dagster.definitions import build_definitions
from etl_assets.project.load import load_config
config = load_config(sys.argv[1])
profile_to = sys.argv[2] if len(sys.argv) > 2 else None

def keys_of(selection):
    # The generated selections are tags and groups joined by `and` / `or`: matched on config.yml.
    def match(table, term):
        kind, _, value = term.partition(":")
        return value in table.tags if kind == "tag" else table.layer == value
    for op in (" and ", " or "):
        if op in selection:
            terms = selection.split(op)
            pick = all if op == " and " else any
            return [dg.AssetKey(t.name) for t in config.tables if pick(match(t, x) for x in terms)]
    return [dg.AssetKey(t.name) for t in config.tables if match(t, selection)]

def schedules(kind):
    made = []
    for s in config.schedules:
        if kind == "target=keys":
            target = dg.AssetSelection.assets(*keys_of(s.selection))
        elif kind == "keys, no checks":
            target = dg.AssetSelection.assets(*keys_of(s.selection)).without_checks()
        elif kind == "define_asset_job":
            target = dg.define_asset_job(f"{s.name}_job", selection=dg.AssetSelection.assets(*keys_of(s.selection)))
        made.append(dg.ScheduleDefinition(name=f"{s.name}_x", cron_schedule=s.cron, target=target))
    return made

def load(kind):
    if kind.startswith("floor"):  # bench/definitions_load.py's Dagster floor: one plain multi-asset
        space = {"dg": dg, "config_path": sys.argv[1], "CODE_RULES": True}
        exec(FLOOR, space)
        jobs = [dg.define_asset_job(f"{s.name}_job", selection=dg.AssetSelection.from_string(s.selection))
                for s in config.schedules] if kind == "floor, job per schedule" else []
        defs = dg.Definitions(assets=[space["all_tables"]], jobs=jobs, schedules=[
            dg.ScheduleDefinition(name=s.name, cron_schedule=s.cron, job=j) for s, j in zip(config.schedules, jobs)])
    elif kind in ("tick time", "target=selection"):
        defs = build_definitions(config, job_per_schedule=kind == "target=selection")
    else:  # build_definitions' own, then merged with the schedules: the repository is built again
        defs = dg.Definitions.merge(build_definitions(config, job_per_schedule=False),
                                    dg.Definitions(schedules=[] if kind == MERGED else schedules(kind)))
    defs.get_repository_def().asset_graph
    defs.resolve_all_job_defs()
    return defs

MERGED = "tick time, merged"
kind = sys.argv[3]
if profile_to:
    import cProfile
    profile = cProfile.Profile()
    profile.runcall(load, kind)
    profile.dump_stats(profile_to)
else:
    start = time.process_time()
    load(kind)
    print(json.dumps({"cpu": time.process_time() - start}))
"""

KINDS = ["tick time", "target=selection", "tick time, merged", "target=keys", "define_asset_job", "keys, no checks",
         "floor", "floor, job per schedule"]
# What each kind is compared with: the same load with the schedules on the implicit job.
BASELINE = {"tick time": "tick time", "target=selection": "tick time", "floor": "floor",
            "floor, job per schedule": "floor"}


def _code() -> str:
    return f"FLOOR = {VARIANTS[FLOOR]!r}\n" + _LOAD


def cpu_of(config: Path, kind: str) -> float:
    out = subprocess.run([sys.executable, "-c", _code(), str(config), "", kind], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"'{kind}' failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])["cpu"]


def profile_of(config: Path, kind: str, into: Path) -> dict[str, float]:
    """Cumulative seconds per Dagster function (file:line(name)) of one profiled load."""
    subprocess.run([sys.executable, "-c", _code(), str(config), str(into), kind], check=True)
    stats = pstats.Stats(str(into)).stats  # type: ignore[attr-defined]
    cumulative: dict[str, float] = {}
    for (file, line, name), (_cc, _nc, _tt, ct, _callers) in stats.items():
        if "site-packages/dagster/" in file:
            where = f"{file.split('site-packages/', 1)[1]}:{line}({name})"
            cumulative[where] = cumulative.get(where, 0.0) + ct
    return cumulative


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=25, help="functions to list from the profile (0: no profile)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = generate(Path(tmp) / f"p{args.tables}", args.tables)
        schedules = len(SCHEDULES)
        cpu_of(config, "tick time")  # fills the project's code-facts cache
        runs: dict[str, list[float]] = {k: [] for k in KINDS}
        for _ in range(args.repeat):
            for kind in KINDS:
                runs[kind].append(cpu_of(config, kind))
        cpu = {k: statistics.median(v) for k, v in runs.items()}
        print(f"{args.tables} tables, {schedules} schedules: CPU seconds of the load (median of {args.repeat})")
        for kind in KINDS:
            base = BASELINE.get(kind, "tick time, merged")
            extra = (cpu[kind] - cpu[base]) / schedules
            print(f"  {kind:<23} {cpu[kind]:>7.2f}  x {base:<17} {cpu[kind] / cpu[base]:>5.2f}"
                  f"  per schedule {extra:>+6.2f}")
        if not args.top:
            return
        job = profile_of(config, "target=selection", Path(tmp) / "job.prof")
        tick = profile_of(config, "tick time", Path(tmp) / "tick.prof")
    grown = sorted(((ct - tick.get(where, 0.0), where) for where, ct in job.items()), reverse=True)
    total = grown[0][0]  # the outermost function: the whole growth
    print("\nUnder cProfile: Dagster functions by growth of cumulative time, target=selection against tick"
          " time, per schedule (share of the whole growth)")
    for seconds, where in grown[:args.top]:
        print(f"  {seconds / schedules:>7.2f} s  {seconds / total:>5.0%}  {where}")


if __name__ == "__main__":
    main()
