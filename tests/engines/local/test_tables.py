"""Reading local tables as Spark does, without Spark: commit logs, stray files."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_assets.engines.local.tables import columns, count_rows, data_files, describe_version, read_rows, rule_counts
from etl_assets.errors import DataError


def write_part(folder, name: str, rows: int):
    path = folder / name
    pq.write_table(pa.table({"id": list(range(rows))}), path)
    return path


def commit(folder, batch: int, *paths, compact: bool = False):
    log = folder / "_spark_metadata"
    log.mkdir(exist_ok=True)
    lines = ["v1", *(json.dumps({"path": p.as_uri(), "size": p.stat().st_size, "isDir": False, "action": "add"})
                     for p in paths)]
    (log / f"{batch}{'.compact' if compact else ''}").write_text("\n".join(lines) + "\n")


def test_a_streaming_table_is_what_its_commit_log_lists(tmp_path):
    table = tmp_path / "events_bronze"
    table.mkdir()
    first = write_part(table, "part-00000-a.snappy.parquet", 3)
    second = write_part(table, "part-00000-b.snappy.parquet", 4)
    write_part(table, "part-00000-c.snappy.parquet", 100)  # a batch that failed before its commit
    commit(table, 0, first)
    commit(table, 1, second)
    assert data_files(table) == [first, second]
    assert count_rows(table) == 7
    assert len(read_rows(table)[1]) == 7


def test_a_compacted_commit_log_is_read_from_its_last_compaction(tmp_path):
    table = tmp_path / "t"
    table.mkdir()
    parts = [write_part(table, f"part-{i}.parquet", 1) for i in range(3)]
    commit(table, 0, parts[0])
    commit(table, 9, parts[0], parts[1], compact=True)
    commit(table, 10, parts[2])
    assert count_rows(table) == 3


def test_a_stray_file_makes_the_count_unknown_and_show_say_which_table(tmp_path):
    table = tmp_path / "customers"
    table.mkdir()
    write_part(table, "part-00000.parquet", 5)
    (table / "junk.parquet").write_text("not parquet")
    assert count_rows(table) is None
    with pytest.raises(DataError, match="cannot read the table at .*customers"):
        read_rows(table)


def test_an_unwritable_home_fails_the_update_clearly_before_spark(tmp_path):
    from etl_assets.engines.base import RefreshRequest
    from etl_assets.engines.local.engine import LocalEngine
    from etl_assets.project.load import load_config
    from tests.conftest import scenario

    blocker = tmp_path / "file"
    blocker.write_text("a file where the home should be")
    config = load_config(scenario("plain"))
    engine = LocalEngine(home=blocker / "home")
    with pytest.raises(DataError, match="cannot use the local state folder .*Set ETL_ASSETS_HOME"):
        list(engine.refresh(RefreshRequest(config, config.pipelines["numbers"], ["numbers_bronze"])))


def test_run_errors_keep_where_in_the_user_code_and_the_error_class_line():
    from etl_assets.engines.local.runner import RunOutcome

    outcome = RunOutcome(lines=[
        '  File "/project/transformations/silver/orders_silver.py", line 7, in <module>',
        '  File "/venv/lib/python3.11/site-packages/pyspark/pipelines/api.py", line 30, in table',
        "SyntaxError: '(' was never closed",
        "[PARSE_SYNTAX_ERROR] Syntax error at or near end of input. SQLSTATE: 42601",
        "        at org.apache.spark.sql.catalyst.parser.ParseException",
    ])
    text = outcome.error_text()
    assert "orders_silver.py\", line 7" in text and "[PARSE_SYNTAX_ERROR]" in text
    assert "site-packages" not in text and "at org.apache" not in text


def test_columns_come_from_sparks_schema_in_the_footer_with_comments(tmp_path):
    table = tmp_path / "orders"
    table.mkdir()
    spark_schema = {"type": "struct", "fields": [
        {"name": "id", "type": "long", "nullable": True, "metadata": {"comment": "order id"}},
        {"name": "tags", "type": {"type": "array", "elementType": "string", "containsNull": True},
         "nullable": True, "metadata": {}}]}
    data = pa.table({"id": [1], "tags": [["a"]]}).replace_schema_metadata(
        {"org.apache.spark.sql.parquet.row.metadata": json.dumps(spark_schema)})
    pq.write_table(data, table / "part-00000.parquet")
    assert columns(table) == [{"name": "id", "type": "bigint", "description": "order id"},
                              {"name": "tags", "type": "array<string>"}]


def test_columns_without_sparks_schema_use_the_parquet_types_and_none_without_data(tmp_path):
    table = tmp_path / "plain"
    table.mkdir()
    assert columns(table) is None
    write_part(table, "part-00000.parquet", 2)
    assert columns(table) == [{"name": "id", "type": "int64"}]


def test_a_table_version_reads_as_what_it_is():
    assert describe_version("batch:3:1796032800000000000") == "batch 3 at 2026-11-30 10:00:00 UTC"
    assert describe_version("commit:1796032800000000000") == "written at 2026-11-30 10:00:00 UTC"


def test_rule_counts_count_true_as_passed_and_false_or_null_as_failed_in_new_files_only(tmp_path):
    table = tmp_path / "etl_quality__t"
    table.mkdir()
    old = table / "part-00000-old.parquet"
    pq.write_table(pa.table({"r": [True, True]}), old)
    before = {old: old.stat().st_mtime_ns}
    pq.write_table(pa.table({"r": [True, False, None], "s": pa.array([None, None, None], pa.bool_())}),
                   table / "part-00001-new.parquet")
    counts, rows, known = rule_counts(table, before)
    assert (counts, rows, known) == ({"r": (1, 2), "s": (0, 3)}, 3, True)
