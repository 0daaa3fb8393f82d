"""What bare `spark-pipelines run` (the local engine's runner, without the project's config
layer) does with each corpus example today: `python -m tests.corpus.probe [example ...]`.

Each example is assembled as the test does, its stand-in data written, and a spec written from
its config (libraries, configuration) run on a warm Spark server of the example's own home.
Prints the outcome and Spark's first error lines per example. A measurement aid for the records
in README.md, not a test.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.runner import _is_error_line, spark_pipelines_command
from etl_assets.engines.local.server import ensure_warm_spark, stop_warm_spark
from tests.corpus._data.standin import write_stand_in
from tests.corpus.corpus import Example, SourcesMissing, assemble, example_names, load_example


def _spec(config_path: Path, name: str, home: LocalHome) -> Path:
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    project = config_path.parent
    files: list[str] = []
    settings: dict[str, str] = {}
    for pipeline in (config.get("pipelines") or {}).values():
        for pattern in pipeline.get("libraries") or []:
            files += sorted(p for p in glob.glob(pattern, root_dir=project, recursive=True) if (project / p).is_file())
        settings.update({k: str(v) for k, v in (pipeline.get("configuration") or {}).items()})
    spec = project / "spark-pipeline.yml"
    spec.write_text(yaml.safe_dump({
        "name": name, "storage": (home.root / "storage" / name).as_uri(), "database": "default",
        "configuration": settings, "libraries": [{"glob": {"include": f}} for f in dict.fromkeys(files)],
    }, sort_keys=False))
    return spec


def _checks(example: Example, home: LocalHome) -> list[str]:
    # The test's own result checks, on what the bare run wrote (tables in the default database).
    from tests.corpus.test_corpus import _check_table

    found = []
    for table, wanted in example.expect.items():
        location = home.table_location(table)
        if not location.is_dir():
            found.append(f"{table}: not written")
            continue
        rows = pq.read_table(location).num_rows
        problems = _check_table(table, wanted, {"table_location": str(location), "dagster/row_count": rows})
        found += problems or [f"{table}: as expected ({rows} rows)"]
    return found


def probe(names: list[str], workdir: Path) -> None:
    """Run each named example on bare `spark-pipelines` and print what happened."""
    for name in names:
        example = load_example(name)
        try:
            config_path, data = assemble(example, workdir / name)
        except SourcesMissing as exc:
            print(f"== {name}: skipped ({exc})", flush=True)
            continue
        home = LocalHome(workdir / name / "home")
        ensure_warm_spark(home)
        env = {**os.environ, "SPARK_CONF_DIR": str(home.conf_dir), "SPARK_LOCAL_CONNECT_REUSE": "1",
               "SPARK_LOCAL_CONNECT_DISCOVERY": str(home.connect_discovery),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        try:
            write_stand_in(example.stand_in, home.root, data)
            spec = _spec(config_path, name, home)
            run = subprocess.run([*spark_pipelines_command(), "run", "--spec", str(spec)], cwd=config_path.parent,
                                 env=env, capture_output=True, text=True, timeout=600)
            lines = (run.stdout + run.stderr).splitlines()
            done = [line for line in lines if "has COMPLETED" in line or "Run is" in line]
            errors = [line for line in lines if _is_error_line(line) and "WARN" not in line and line.strip().strip("^")][:6]
            print(f"== {name}: exit {run.returncode}", *done, *errors, *_checks(example, home), sep="\n   ", flush=True)
        finally:
            stop_warm_spark(home)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        probe(sys.argv[1:] or example_names(), Path(tmp))
