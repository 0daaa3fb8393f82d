"""The benchmarks' own data and measuring: generated projects, raw data at scale, peak memory.

    .venv/bin/python -m pytest bench/test_bench_data.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from gen_local_project import generate as generate_project  # noqa: E402
from local_common import PeakMemory, bare_shop, write_example_landing  # noqa: E402

from etl_assets.engines.local.home import LocalHome  # noqa: E402
from etl_assets.example.datagen import generate  # noqa: E402
from etl_assets.project.load import load_config  # noqa: E402


def test_generated_project_is_valid_and_its_pipelines_independent(tmp_path: Path) -> None:
    project = generate_project(tmp_path, tables=200, pipelines=10, rows=50)
    config = load_config(project.config)
    assert len(config.tables) == 200 and len(config.pipelines) == 10
    by_layer: dict[str, int] = {}
    for table in config.tables:
        by_layer[table.layer] = by_layer.get(table.layer, 0) + 1
        for dep in table.depends_on:
            assert config.table(dep).pipeline == table.pipeline, (table.name, dep)
        code = (project.root / f"transformations/{table.layer}/{table.name}.py").read_text()
        compile(code, table.name, "exec")
        if table.layer == "bronze":
            assert table.source is not None and "read_landing" in code
            lines = (project.home / "landing" / table.source.path / "part-00000.json").read_text().splitlines()
            assert len(lines) == 50
        else:
            assert "materialized_view" in code and all(f'"{dep}"' in code for dep in table.depends_on)
    assert by_layer == {"bronze": 40, "silver": 100, "gold": 60}
    assert sum(1 for t in config.tables if t.expectations) == 40


def test_cross_reads_make_each_later_pipeline_read_the_one_before(tmp_path: Path) -> None:
    config = load_config(generate_project(tmp_path, tables=30, pipelines=3, rows=5, cross_reads=True).config)
    crossing = {(t.pipeline, config.table(d).pipeline) for t in config.tables for d in t.depends_on
                if config.table(d).pipeline != t.pipeline}
    assert crossing == {("pipeline_1", "pipeline_0"), ("pipeline_2", "pipeline_1")}


def test_example_landing_at_scale_is_chunked_like_generate_data(tmp_path: Path) -> None:
    files = write_example_landing(tmp_path / "landing", rows=25, chunk=10, workers=2)
    assert files == 3
    for source in ("customers", "orders"):
        names = sorted(p.name for p in (tmp_path / "landing" / source).iterdir())
        assert names == ["part-00000.json", "part-00001.json", "part-00002.json"]
        counts = [len((tmp_path / "landing" / source / n).read_text().splitlines()) for n in names]
        assert counts == [10, 10, 5]
    # The first file is what `etl-assets generate-data --rows 10 --seed 1` writes.
    generate(tmp_path / "single", rows=10, seed=1)
    for source in ("customers", "orders"):
        assert ((tmp_path / "landing" / source / "part-00000.json").read_bytes()
                == (tmp_path / "single" / source / "part-00000.json").read_bytes())


def test_peak_memory_sees_a_child_process(tmp_path: Path) -> None:
    with PeakMemory(LocalHome(tmp_path / "home"), interval=0.05) as memory:
        subprocess.run([sys.executable, "-c", "import time; x = bytearray(200 * 2**20); time.sleep(1)"], check=True)
    assert memory.client_mib >= 200
    assert memory.server_mib == 0  # no server of this home runs


def test_the_bare_baseline_runs_the_shop_tables_without_databricks_syntax(tmp_path: Path) -> None:
    config = load_config(bare_shop(tmp_path))
    shop = load_config(BENCH.parent / "tests" / "scenarios" / "shop" / "config.yml")
    assert [t.name for t in config.tables] == [t.name for t in shop.tables]
    code = [p.read_text() for p in (config.root / "transformations").rglob("*") if p.is_file()]
    assert not any("AUTO CDC" in text for text in code)
    history = (config.root / "transformations" / "silver" / "customers_history.py").read_text()
    assert 'target="customers_history"' in history and "stored_as_scd_type=2" in history
