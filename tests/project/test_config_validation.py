"""Every config rule: a failing config per rule, with the message and line asserted."""

from __future__ import annotations

import pytest

from etl_assets.errors import ConfigError
from etl_assets.project.load import find_config_path, load_config

GOOD_TABLE = "  - name: raw\n    layer: bronze\n"


def problems_of(project, text: str, files: bool = True) -> list[str]:
    path = project(text, files=files)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(p) for p in info.value.problems]


def only_problem(project, text: str, files: bool = True) -> str:
    found = problems_of(project, text, files)
    assert len(found) == 1, found
    return found[0]


def test_valid_minimal_config_loads_with_defaults(project):
    config = load_config(project("tables:\n" + GOOD_TABLE))
    table = config.table("raw")
    assert table.tags == () and table.depends_on == () and table.expectations == ()
    assert table.pipeline == "default" and config.pipelines["default"].name == "default"
    assert config.line_of("tables", "raw") == 2


def test_yaml_syntax_error_names_the_line(project):
    problem = only_problem(project, "tables:\n  - name: raw\n    layer: [bronze\n")
    assert problem.startswith("config.yml:")
    assert "YAML syntax error" in problem


def test_duplicate_yaml_key_is_reported_not_silently_overwritten(project):
    problem = only_problem(project, "tables:\n  - name: raw\n    layer: bronze\n    layer: silver\n")
    assert problem.startswith("config.yml:4:")
    assert "key 'layer' appears twice" in problem


def test_config_must_be_a_mapping(project):
    assert "config must be a mapping" in only_problem(project, "- just\n- a list\n")


def test_missing_tables_section(project):
    assert "config has no 'tables:' list" in only_problem(project, "pipelines: {}\n")


def test_unknown_top_level_key_suggests_the_right_one(project):
    problem = only_problem(project, "tabels: []\ntables:\n" + GOOD_TABLE)
    assert problem == "config.yml:1: unknown top-level key 'tabels' (hint: did you mean 'tables'?)"


def test_unknown_table_key_suggests_the_right_one(project):
    problem = only_problem(project, "tables:\n  - name: raw\n    layer: bronze\n    dependson: []\n")
    assert problem == "config.yml:4: table 'raw': unknown table key 'dependson' (hint: did you mean 'depends_on'?)"


def test_unknown_expectation_key(project):
    problem = only_problem(project, """
        tables:
          - name: raw
            layer: bronze
            expectations:
              - {name: ok, condition: x > 0, acton: drop}
    """)
    assert "config.yml:5: table 'raw': expectations[0]: unknown table key 'acton'" in problem
    assert "did you mean 'action'?" in problem


def test_missing_required_key(project):
    problem = only_problem(project, "tables:\n  - name: raw\n")
    assert problem == "config.yml:2: table 'raw': missing required key 'layer' (hint: add 'layer:' to this table)"


def test_wrong_type_says_what_was_expected(project):
    problem = only_problem(project, "tables:\n  - name: raw\n    layer: bronze\n    tags: daily\n")
    assert "config.yml:4: table 'raw': 'tags' should be a list, got 'daily'" in problem
    assert "tags: [daily, critical]" in problem


def test_bad_expectation_action(project):
    problem = only_problem(project, """
        tables:
          - name: raw
            layer: bronze
            expectations:
              - {name: ok, condition: x > 0, action: quarantine}
    """)
    assert "'expectations[0].action' should be 'warn', 'drop' or 'fail'" in problem
    assert problem.startswith("config.yml:5:")


def test_duplicate_table_names(project):
    problem = only_problem(project, "tables:\n" + GOOD_TABLE + GOOD_TABLE)
    assert problem == (
        "config.yml:4: table 'raw': duplicate table name, first defined on line 2 "
        "(hint: rename one of them or remove the copy)"
    )


def test_names_differing_only_in_case_collide(project):
    problem = only_problem(project, "tables:\n" + GOOD_TABLE + "  - {name: RAW, layer: bronze}\n")
    assert "names are case-insensitive" in problem


def test_unknown_layer_suggests_closest(project):
    problem = only_problem(project, "tables:\n  - name: raw\n    layer: silvr\n")
    assert problem == "config.yml:3: table 'raw': unknown layer 'silvr' (hint: did you mean 'silver'?)"


def test_unknown_dependency_names_the_line_of_the_entry(project):
    problem = only_problem(project, """
        tables:
          - name: customers
            layer: bronze
          - name: orders
            layer: silver
            depends_on:
              - custmers
    """)
    assert problem == (
        "config.yml:7: table 'orders': depends on 'custmers', which is not a table in this config "
        "(hint: did you mean 'customers'?)"
    )


def test_cycle_prints_the_cycle(project):
    problem = only_problem(project, """
        tables:
          - {name: a, layer: silver, depends_on: [c]}
          - {name: b, layer: silver, depends_on: [a]}
          - {name: c, layer: silver, depends_on: [b]}
    """)
    assert "dependency cycle: a -> c -> b -> a" in problem
    assert problem.startswith("config.yml:2: table 'a':")


def test_self_dependency_is_a_cycle(project):
    assert "dependency cycle: a -> a" in only_problem(project, "tables:\n  - {name: a, layer: silver, depends_on: [a]}\n")


@pytest.mark.parametrize("name", ["orders-raw", "1orders", "orders raw", "orders;drop"])
def test_unsafe_table_names(project, name):
    problem = only_problem(project, f"tables:\n  - name: '{name}'\n    layer: bronze\n", files=False)
    assert f"table name '{name}' is not a safe identifier" in problem


@pytest.mark.parametrize("tag", ["daily run", "x" * 64, "a/b/c", "dagster/kind"])
def test_tags_dagster_rejects(project, tag):
    problem = only_problem(project, f"tables:\n  - name: raw\n    layer: bronze\n    tags: ['{tag}']\n")
    assert f"tag '{tag}'" in problem
    assert problem.startswith("config.yml:4:")


def test_valid_tag_forms_pass(project):
    config = load_config(project("tables:\n  - {name: raw, layer: bronze, tags: [daily, team/core, v1.2, a-b_c]}\n"))
    assert config.table("raw").tags == ("daily", "team/core", "v1.2", "a-b_c")


def test_missing_transformation_file(project):
    problem = only_problem(project, "tables:\n" + GOOD_TABLE, files=False)
    assert problem == (
        "config.yml:2: table 'raw': transformation file transformations/bronze/raw.py is missing "
        "(hint: create transformations/bronze/raw.py defining the dataset 'raw' with pyspark.pipelines)"
    )


def test_unknown_pipeline(project):
    problem = only_problem(project, """
        pipelines:
          orders: {name: orders_pipeline}
        tables:
          - {name: raw, layer: bronze, pipeline: order}
    """)
    assert "pipeline 'order' is not declared under 'pipelines:'" in problem
    assert "did you mean 'orders'?" in problem


def test_table_without_pipeline_when_several_exist(project):
    problem = only_problem(project, """
        pipelines:
          a: {}
          b: {}
        tables:
          - {name: raw, layer: bronze}
    """)
    assert "no 'pipeline:' given and there are 2 pipelines" in problem


def test_two_pipelines_with_one_deployed_name(project):
    problem = only_problem(project, """
        pipelines:
          a: {name: same}
          b: {name: same}
        tables:
          - {name: raw, layer: bronze, pipeline: a}
    """)
    assert "pipelines 'a' and 'b' have the same deployed name 'same'" in problem


def test_pipeline_cycle(project):
    problem = only_problem(project, """
        pipelines:
          p: {}
          q: {}
        tables:
          - {name: p_raw, layer: bronze, pipeline: p}
          - {name: q_raw, layer: bronze, pipeline: q}
          - {name: p_clean, layer: silver, pipeline: p, depends_on: [q_raw]}
          - {name: q_clean, layer: silver, pipeline: q, depends_on: [p_raw]}
    """)
    assert "pipeline cycle: p -> q -> p (p_clean reads q_raw, q_clean reads p_raw)" in problem
    assert problem.startswith("config.yml:7:")  # where p_clean reads q_raw


def test_bad_owner(project):
    problem = only_problem(project, "tables:\n  - {name: raw, layer: bronze, owners: [data team]}\n")
    assert "owner 'data team' is neither an email address nor 'team:<name>'" in problem


def test_duplicate_expectation_names(project):
    problem = only_problem(project, """
        tables:
          - name: raw
            layer: bronze
            expectations:
              - {name: ok, condition: x > 0}
              - {name: ok, condition: y > 0}
    """)
    assert "expectation 'ok' is defined twice" in problem


def test_expectation_tolerances_are_checked(project):
    found = problems_of(project, """
        tables:
          - name: raw
            layer: bronze
            expectations:
              - {name: share, condition: x > 0, action: drop, max_failed_share: 1.5}
              - {name: records, condition: x > 0, action: drop, max_failed_records: -1}
          - name: clean
            layer: silver
            expectations:
              - {name: both, condition: x > 0, max_failed_share: 0.1, max_failed_records: 3}
              - {name: stops, condition: x > 0, action: fail, max_failed_records: 3}
              - {name: fine, condition: x > 0, action: drop, max_failed_share: 0.02}
    """)
    assert any(p.startswith("config.yml:5: table 'raw': 'expectations[0].max_failed_share' should be less than "
                            "or equal to 1") for p in found)
    assert any(p.startswith("config.yml:6: table 'raw': 'expectations[1].max_failed_records' should be greater "
                            "than or equal to 0") for p in found)
    assert any(p.startswith("config.yml:10: table 'clean': expectation 'both' sets both max_failed_share and "
                            "max_failed_records") for p in found)
    assert any(p.startswith("config.yml:11: table 'clean': expectation 'stops' has action fail and a tolerance")
               for p in found)
    assert len(found) == 4


def test_duplicate_schedule_names_and_bad_timezone(project):
    found = problems_of(project, """
        schedules:
          - {name: daily, cron: "0 6 * * *", selection: "tag:daily"}
          - {name: daily, cron: "0 7 * * *", selection: "tag:daily"}
          - {name: paris, cron: "0 7 * * *", selection: "tag:daily", timezone: Mars/Olympus}
        tables:
          - {name: raw, layer: bronze, tags: [daily]}
    """)
    assert any("schedule 'daily' is defined twice" in p for p in found)
    assert any("unknown timezone 'Mars/Olympus'" in p for p in found)


def test_every_problem_is_reported_at_once(project):
    found = problems_of(project, """
        tables:
          - {name: a, layer: silver, depends_on: [c], tags: [daily run]}
          - {name: b, layer: silver, depends_on: [a]}
          - {name: c, layer: silver, depends_on: [b, nowhere]}
          - {name: a, layer: silver}
    """)
    assert len(found) == 4, found
    joined = "\n".join(found)
    for expected in ("dependency cycle: a -> c -> b -> a", "depends on 'nowhere'", "duplicate table name",
                     "tag 'daily run'"):
        assert expected in joined


def test_config_not_found_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="config file not found") as raised:
        load_config(tmp_path / "nope.yml")
    assert str(tmp_path / "nope.yml") in str(raised.value) and "set ETL_ASSETS_CONFIG" in str(raised.value)


def test_the_library_reads_no_config_variable(tmp_path, monkeypatch):
    # $ETL_ASSETS_CONFIG is the command line's and the default code location's to pass.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere.yml").write_text("tables: []\n")
    monkeypatch.setenv("ETL_ASSETS_CONFIG", str(tmp_path / "elsewhere.yml"))
    assert find_config_path(tmp_path / "elsewhere.yml") == (tmp_path / "elsewhere.yml").resolve()
    assert find_config_path() != (tmp_path / "elsewhere.yml").resolve()


def test_every_problem_is_reported_at_once_with_its_line(project):
    found = problems_of(project, """
        pipelines:
          numbers: {name: numbers, nonsense: 1}
        schedules:
          - {name: s1, cron: "0 99 * * *", selection: "tag:daily and (", timezone: Mars/Olympus}
        tables:
          - name: numbers_bronze
            layer: bronze
            pipeline: numbers
            expectations:
              - {name: a, condition: x > 0, action: explode}
              - {name: a, condition: y > 0}
    """)
    text = "\n".join(found)
    assert "config.yml:2: unknown pipeline 'numbers' key 'nonsense'" in text
    assert "invalid cron '0 99 * * *': hour 99 is not within 0-23" in text
    assert "selection 'tag:daily and (' has an unclosed parenthesis" in text
    assert "unknown timezone 'Mars/Olympus'" in text
    assert "got 'explode'" in text and "expectation 'a' is defined twice" in text


def test_a_name_too_long_for_a_file_name_is_refused(project):
    found = problems_of(project, f"""
        tables:
          - {{name: {'t' * 200}, layer: bronze}}
    """)
    assert any("is not a safe identifier" in p and "at most 128" in p for p in found)


def test_non_utf8_config_and_a_folder_named_like_the_file_are_clear_errors(project):
    path = project("""
        tables:
          - {name: orders_bronze, layer: bronze}
    """)
    file = path.parent / "transformations" / "bronze" / "orders_bronze.py"
    file.unlink()
    file.mkdir()
    with pytest.raises(ConfigError, match="orders_bronze.py is a folder, not a file"):
        load_config(path)
    path.write_bytes(path.read_bytes() + b"\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(path)
