"""The rules of `automation:` and `freshness:` (by selection and per table): each problem with
its line, found by the same checks `etl-assets validate` and a load run."""

from __future__ import annotations

import pytest

from etl_assets.project.config import Asset, duration, parse_selection
from etl_assets.project.load import load_config
from tests.project.test_config_validation import only_problem

TABLE = "tables:\n  - {name: raw, layer: bronze, tags: [daily]}\n"


def test_rules_load_in_order(project):
    config = load_config(project("""
        automation:
          - {selection: "tag:daily", condition: eager}
          - {selection: "group:gold", condition: {on_cron: "0 6 * * *", timezone: Europe/Paris}}
        freshness:
          - {selection: "tag:daily", fail_after: 26h, warn_after: 12h}
        tables:
          - {name: raw, layer: bronze, tags: [daily], freshness: {fail_after: 30m}}
    """))
    assert [r.selection for r in config.automation] == ["tag:daily", "group:gold"]
    assert config.freshness[0].windows() == (duration("26h"), duration("12h"))
    assert config.line_of("automation", "group:gold") == 3
    assert config.table("raw").freshness.fail_after == "30m"


@pytest.mark.parametrize(("rules", "line", "message"), [
    ('automation:\n  - {selection: "tag:daily and (", condition: eager}\n', 2,
     "automation: selection 'tag:daily and (' ends where a term such as tag:daily is expected"),
    ('automation:\n  - {selection: "tag:daily+", condition: eager}\n', 2, "automation: selection 'tag:daily+' "),
    ('automation:\n  - {selection: "owner:x", condition: sometimes}\n', 2, "'condition' should be"),
    ('automation:\n  - {selection: "tag:daily", condition: {on_cron: "0 25 * * *"}}\n', 2,
     "automation: invalid cron '0 25 * * *': hour 25 is not within 0-23"),
    ('automation:\n  - {selection: "tag:daily", condition: eager}\n  - {selection: "tag:daily", condition: on_missing}\n',
     3, "automation: selection 'tag:daily' is given twice"),
    ('freshness:\n  - {selection: "tag:daily", fail_after: soon}\n', 2,
     "freshness: fail_after 'soon' is not a duration such as 30m, 26h or 2d"),
    ('freshness:\n  - {selection: "tag:daily", fail_after: 1h, warn_after: 2h}\n', 2,
     "freshness: warn_after 2h is not shorter than fail_after 1h"),
    ('freshness:\n  - {selection: "tag:daily"}\n', 2, "missing required key 'fail_after'"),
    ("freshness: {fail_after: 1h}\n", 1, "'freshness' must be a list"),
])
def test_bad_rules_by_selection(project, rules, line, message):
    problem = only_problem(project, rules + TABLE)
    assert message in problem
    assert problem.startswith(f"config.yml:{line}:")


@pytest.mark.parametrize(("setting", "message"), [
    ('automation: {on_cron: "0 6 * * *", timezone: Mars/Olympus}', "automation: unknown timezone 'Mars/Olympus'"),
    ("freshness: {fail_after: 0h}", "freshness: fail_after '0h' is not a duration"),
    ("freshness: {fail_after: 1d, warn_after: 1d}", "warn_after 1d is not shorter than fail_after 1d"),
])
def test_bad_table_settings_fail_validation_not_only_the_load(project, setting, message):
    problem = only_problem(project, f"tables:\n  - {{name: raw, layer: bronze, {setting}}}\n")
    assert message in problem
    assert "raw" in problem


def test_selection_syntax_matches_tables_by_their_own_attributes():
    orders = Asset("orders_silver", "silver", tags=("daily", "critical"), owners=("team:data",), kinds=("spark",))
    assert parse_selection("tag:daily and tag:critical")(orders)
    assert parse_selection("group:gold or key:orders_*")(orders)
    assert not parse_selection("not (owner:team:data or kind:spark)")(orders)
    with pytest.raises(ValueError, match="'colour:blue' is not one of tag:, group:"):
        parse_selection("colour:blue")
