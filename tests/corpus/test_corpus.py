"""Public Lakeflow / Spark Declarative Pipelines examples, run unchanged on the local engine.

Each example (tests/corpus/<example>/) is laid out as a project, its stand-in data written, its
tables materialized through Dagster on the local engine, and its results compared with values
worked out by hand from the stand-in data. An example's `today:` records how it fails until
the engine supports what it needs: such an example is reported as XFAIL with that reason while
it fails that way, and fails the test when it fails differently or starts to pass (then its
record is out of date). `ETL_ASSETS_CORPUS_RECORD=ignore` runs every example as a plain test.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import local_resource
from tests.corpus._data.standin import BUILDERS, write_stand_in
from tests.corpus.corpus import (
    CORPUS,
    DATA_TOKEN,
    Example,
    SourcesMissing,
    assemble,
    example_names,
    fenced_block,
    load_example,
    source_bytes,
)

RECORD_ENV = "ETL_ASSETS_CORPUS_RECORD"
IGNORE_RECORD = os.environ.get(RECORD_ENV) == "ignore"  # read at import: fixtures clear ETL_ASSETS_*
EXAMPLES = example_names()


class ExampleFailed(AssertionError):
    """The example's run failed, or its results differ from the expected ones."""


def _materialize(config_path: Path) -> dict[str, dict[str, Any]]:
    from dagster import instance_for_test, materialize

    from etl_assets.dagster.assets import build_table_assets
    from etl_assets.project.load import load_config

    assets = build_table_assets(load_config(config_path))
    with instance_for_test() as instance:
        result = materialize(assets, instance=instance, raise_on_error=False,
                             resources={"engine": local_resource()})
    if not result.success:
        errors = [e.step_failure_data.error.message for e in result.get_step_failure_events()
                  if e.step_failure_data.error is not None]
        raise ExampleFailed("the run failed:\n" + "\n".join(errors))
    return {
        e.materialization.asset_key.path[-1]: {k: getattr(v, "value", v) for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


def _same(found: Any, wanted: Any) -> bool:
    if isinstance(wanted, float) and isinstance(found, (int, float)):
        return math.isclose(float(found), wanted, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(wanted, str) and not isinstance(found, str) and found is not None:
        return str(found) == wanted
    return bool(found == wanted)


def _check_table(table: str, wanted: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    rows = pq.read_table(meta["table_location"]).to_pylist()
    problems = []
    if "rows" in wanted and len(rows) != wanted["rows"]:
        problems.append(f"{table}: {len(rows)} rows, expected {wanted['rows']}")
    if "rows" in wanted and meta.get("dagster/row_count") != wanted["rows"]:
        problems.append(f"{table}: reported row count {meta.get('dagster/row_count')}, expected {wanted['rows']}")
    columns = set(rows[0]) if rows else set()
    for column in wanted.get("columns", []):
        if rows and column not in columns:
            problems.append(f"{table}: no column {column} (has {sorted(columns)})")
    for column, total in (wanted.get("sums") or {}).items():
        found = sum(r[column] for r in rows if r.get(column) is not None)
        if not _same(found, float(total)):
            problems.append(f"{table}: sum({column}) = {found}, expected {total}")
    for column, values in (wanted.get("values") or {}).items():
        found = sorted((r.get(column) for r in rows), key=lambda v: (v is None, v))
        if len(found) != len(values) or not all(_same(f, w) for f, w in zip(found, values)):
            problems.append(f"{table}: {column} values {found}, expected {values}")
    key = wanted.get("by")
    for key_value, expected_row in (wanted.get("rows_by") or {}).items():
        matching = [r for r in rows if _same(r.get(key), key_value)]
        if len(matching) != 1:
            problems.append(f"{table}: {len(matching)} rows with {key} = {key_value!r}, expected 1")
            continue
        for column, value in expected_row.items():
            if not _same(matching[0].get(column), value):
                problems.append(f"{table}: {column} = {matching[0].get(column)!r} where {key} = {key_value!r}, "
                                f"expected {value!r}")
    return problems


def _run_and_check(example: Example, config_path: Path) -> None:
    found = _materialize(config_path)
    if example.hard_coded:
        raise ExampleFailed(f"ran although it reads {example.hard_coded}: record what the local engine did")
    problems = [f"{table}: not materialized" for table in example.expect if table not in found]
    for table, wanted in example.expect.items():
        if table in found:
            problems += _check_table(table, wanted, found[table])
    if problems:
        raise ExampleFailed("results differ from the stand-in data's:\n" + "\n".join(problems))


def _first_line_with(text: str, fragment: str) -> str:
    return next((line.strip() for line in text.splitlines() if fragment in line), fragment)


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_unchanged_on_the_local_engine(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from etl_assets.engines.local.home import LocalHome
    from etl_assets.engines.local.runner import stop_warm_spark

    example = load_example(name)
    try:
        config_path, data = assemble(example, tmp_path)
    except SourcesMissing as exc:
        pytest.skip(f"the example's code is not available here: {exc}")
    home = LocalHome(tmp_path / "home")
    monkeypatch.setenv("ETL_ASSETS_HOME", str(home.root))
    write_stand_in(example.stand_in, home.root, data)
    failure: BaseException | None = None
    try:
        _run_and_check(example, config_path)
    except Exception as exc:  # any failure is compared with the record below
        failure = exc
    finally:
        stop_warm_spark(home)
    if IGNORE_RECORD or example.today is None:
        if failure is not None:
            raise failure
        return
    if failure is None:
        pytest.fail(f"{name} now runs and checks out: set `today: null` in tests/corpus/{name}/example.yml")
    text = f"{type(failure).__name__}: {failure}"
    if example.today not in text:
        raise ExampleFailed(f"{name} fails differently from its record (today: {example.today!r}):\n{text}") from failure
    pytest.xfail(f"needs {'; '.join(example.needs)}. Today: {_first_line_with(text, example.today)}")


# Fast checks of the corpus itself: every example is complete and consistent.

@pytest.mark.parametrize("name", EXAMPLES)
def test_example_is_described_completely(name: str):
    example = load_example(name)
    config = yaml.safe_load((CORPUS / name / "config.yml").read_text(encoding="utf-8"))
    tables = {t["name"] for t in config["tables"]}
    assert example.sources and example.constructs and example.needs and example.bare_spark
    for entry in example.sources:
        if "wheel" in entry:  # a wheel of the package registry, fetched at test time
            assert {"wheel_sha256", "license", "path", "to", "sha256"} <= set(entry)
            assert "==" in entry["wheel"] and len(entry["wheel_sha256"]) == 64 and len(entry["sha256"]) == 64
            continue
        assert {"repo", "license"} <= set(entry)
        if entry.get("generated_by") is None:
            assert {"commit", "path", "to", "sha256"} <= set(entry)
            assert len(entry["sha256"]) == 64 and len(entry["commit"]) == 40
    files = {e["to"] for e in example.sources if "to" in e} | {e["to"] for e in example.stand_in_files}
    for table in config["tables"]:
        assert table.get("file") is None or table["file"] in files or example.sources[0].get("generated_by"), table
    assert set(example.stand_in) <= set(BUILDERS)
    for entry in example.stand_in_files:
        assert (CORPUS / entry["from"]).is_file()
    # Expected results only for tables the config names; an example bound to a hard-coded
    # workspace path has none (it cannot run here).
    assert set(example.expect) <= tables
    assert bool(example.expect) != bool(example.hard_coded)
    if DATA_TOKEN in (CORPUS / name / "config.yml").read_text(encoding="utf-8"):
        assert example.stand_in


def test_the_corpus_covers_the_constructs_it_is_for():
    text = "\n".join(" ".join(load_example(n).constructs) for n in EXAMPLES)
    for construct in ("import dlt", "from pyspark import pipelines as dp", "cloudFiles", "apply_changes",
                      "create_auto_cdc_flow", "SCD", "CONSTRAINT", "APPLY CHANGES INTO", "read_files",
                      "notebook source", "for loop", "append_flow", "CREATE FLOW", "spark.conf.get",
                      "samples.nyctaxi.trips", "expect_or_drop", "materialized_view", "temporary_view"):
        assert construct in text, construct
    assert len(EXAMPLES) >= 9


def test_a_code_block_is_taken_from_its_section():
    markdown = ("# Guide\n\n### A\n\n```python\nx = 1\n```\n\n## SQL\n\n### A\n\ntext\n\n```sql\nSELECT 1;\n```\n")
    assert fenced_block(markdown, ["### A"]) == "x = 1\n"
    assert fenced_block(markdown, ["## SQL", "### A"]) == "SELECT 1;\n"


def _github_sources() -> list[dict[str, Any]]:
    return [e for n in EXAMPLES for e in load_example(n).sources
            if "wheel" not in e and e.get("generated_by") is None]


def test_an_example_without_sources_says_where_they_come_from_and_their_licence():
    assert _github_sources()
    for entry in _github_sources():
        with pytest.raises(SourcesMissing, match=re.escape(entry["license"])):
            source_bytes(entry, None)
