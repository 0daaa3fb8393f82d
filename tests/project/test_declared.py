"""Expectations declared in code are Dagster checks too, beside config.yml's."""

from __future__ import annotations

from dagster import AssetCheckKey, AssetKey

from etl_assets.cli import main
from etl_assets.dagster.definitions import build_definitions
from etl_assets.dagster.resources import LocalPipelinesResource
from etl_assets.project.declared import declaration_problems, with_declared_expectations
from etl_assets.project.load import load_config

CONFIG = """\
    tables:
      - name: clean
        layer: silver
        expectations:
          - {name: valid_id, condition: id IS NOT NULL, action: drop, max_failed_share: 0.1}
"""
CODE = '''\
import dlt

@dlt.table(name="clean")
@dlt.expect_or_drop("valid_id", "id IS NOT NULL")
@dlt.expect("fresh", "ts > '2020-01-01'")
def clean():
    return spark.read.table("raw")
'''
SQL = """\
CREATE OR REFRESH MATERIALIZED VIEW clean (
  CONSTRAINT valid_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT positive EXPECT (amount > 0) ON VIOLATION FAIL UPDATE
) AS SELECT * FROM raw
"""


def test_rules_declared_in_code_become_checks_and_config_keeps_its_tolerance(project):
    path = project(CONFIG)
    (path.parent / "transformations/silver/clean.py").write_text(CODE)
    table = with_declared_expectations(load_config(path)).table("clean")
    assert [(e.name, e.action, e.max_failed_share) for e in table.expectations] == [
        ("valid_id", "drop", 0.1), ("fresh", "warn", None)]
    defs = build_definitions(path, engine=LocalPipelinesResource())
    checks = defs.resolve_asset_graph().asset_check_keys
    assert {AssetCheckKey(AssetKey("clean"), "valid_id"), AssetCheckKey(AssetKey("clean"), "fresh")} <= checks


def test_sql_constraints_are_checks(project):
    path = project(CONFIG.replace("layer: silver", "layer: silver\n        file: sql/clean.sql"), files=False)
    (path.parent / "sql").mkdir()
    (path.parent / "sql/clean.sql").write_text(SQL)
    table = with_declared_expectations(load_config(path)).table("clean")
    assert [(e.name, e.action) for e in table.expectations] == [("valid_id", "drop"), ("positive", "fail")]


def test_a_rule_config_and_code_declare_differently_is_reported(project, capsys):
    path = project(CONFIG.replace("id IS NOT NULL", "id > 0"))
    (path.parent / "transformations/silver/clean.py").write_text(CODE)
    [problem] = declaration_problems(load_config(path))
    assert "expectation 'valid_id' is 'id > 0' (drop) in config but 'id IS NOT NULL' (drop)" in problem.message
    assert main(["validate", "--config", str(path)]) == 1
    assert "valid_id" in capsys.readouterr().err
