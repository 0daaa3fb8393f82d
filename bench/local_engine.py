"""Wall time of the whole example on the local engine, and our overhead over bare Spark.

    .venv/bin/python bench/local_engine.py [--rows 10000 100000]

For each size, the same raw files (one customers and one orders file of --rows lines) are
copied into fresh ETL_ASSETS_HOMEs and both pipelines run (customers_cdc then orders):

- bare CLI: `spark-pipelines run --spec` on the spec we generate, nothing else (baseline);
- runner, cold: our runner with ETL_ASSETS_WARM_SPARK=0 (a Spark start per run, like the CLI);
- runner, warm 1st: our default, which starts the home's Spark server on first use;
- runner, warm again: the same refresh once more on the running server (the repeated run);
- dagster, warm: `materialize` of every asset through Dagster on the running server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from etl_assets.engines.local.home import LocalHome  # noqa: E402
from etl_assets.engines.local.runner import LocalRunner, RunOutcome, spark_pipelines_command, stop_warm_spark  # noqa: E402
from etl_assets.engines.local.spec import write_spec  # noqa: E402
from etl_assets.example.datagen import generate  # noqa: E402
from etl_assets.project.config import load_config  # noqa: E402

PIPELINES = ("customers_cdc", "orders")


def fresh_home(base: Path, name: str, landing: Path) -> LocalHome:
    home = LocalHome(base / name)
    shutil.copytree(landing, home.landing)
    return home


def bare_cli(config, home: LocalHome) -> float:
    home.prepare()
    runner = LocalRunner(config, home)
    env = {k: v for k, v in runner.environment().items() if not k.startswith("SPARK_LOCAL_CONNECT")}
    start = time.perf_counter()
    for key in PIPELINES:
        spec = write_spec(config, key, home)
        datasets = runner.datasets([t.name for t in config.tables_of(key)])
        cmd = [*spark_pipelines_command(), "run", "--spec", str(spec), "--refresh", ",".join(datasets)]
        subprocess.run(cmd, cwd=config.root, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def our_runner(config, home: LocalHome) -> float:
    runner = LocalRunner(config, home)
    start = time.perf_counter()
    for key in PIPELINES:
        outcome = [item for item in runner.run(key, [t.name for t in config.tables_of(key)]) if isinstance(item, RunOutcome)][-1]
        if outcome.returncode != 0:
            raise SystemExit(f"{key} failed:\n{outcome.error_text()}")
    return time.perf_counter() - start


def dagster_run(home: LocalHome) -> float:
    from dagster import instance_for_test, materialize

    from etl_assets.dagster.assets import build_table_assets

    start = time.perf_counter()
    with instance_for_test() as instance:
        result = materialize(build_table_assets(load_config(REPO / "config.yml")), instance=instance)
    assert result.success
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    config = load_config(REPO / "config.yml")
    print(f"{'rows':>8}  {'variant':<20} {'seconds':>8}  {'x bare CLI':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for rows in args.rows:
            landing = base / f"landing_{rows}"
            generate(landing, rows=rows, seed=1)
            results = {"bare CLI": bare_cli(config, fresh_home(base, f"bare_{rows}", landing))}
            os.environ["ETL_ASSETS_WARM_SPARK"] = "0"
            results["runner, cold"] = our_runner(config, fresh_home(base, f"cold_{rows}", landing))
            os.environ["ETL_ASSETS_WARM_SPARK"] = "1"
            warm = fresh_home(base, f"warm_{rows}", landing)
            try:
                results["runner, warm 1st"] = our_runner(config, warm)
                results["runner, warm again"] = our_runner(config, warm)
                os.environ["ETL_ASSETS_HOME"] = str(warm.root)
                results["dagster, warm"] = dagster_run(warm)
            finally:
                stop_warm_spark(warm)
            for variant, seconds in results.items():
                print(f"{rows:>8}  {variant:<20} {seconds:>8.1f}  {seconds / results['bare CLI']:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
