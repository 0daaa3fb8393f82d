"""AUTO CDC (`create_auto_cdc_flow`, `apply_changes`, snapshots) on the local engine."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

CHANGES = """
    import dlt
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    # A DDL string schema would be parsed by the server: not allowed while a pipeline is defined.
    SCHEMA = StructType([StructField("id", LongType()), StructField("name", StringType()),
                         StructField("operation", StringType()), StructField("seq", LongType())])

    @dlt.view
    def cdc_changes():
        return spark.createDataFrame(
            [(1, "a", "UPDATE", 1), (1, "b", "UPDATE", 3), (1, "old", "UPDATE", 2),
             (2, "x", "APPEND", 1), (2, None, "DELETE", 2), (3, "z", "APPEND", 5)],
            SCHEMA)

    dlt.create_streaming_table("cdc_customers")
    dlt.create_auto_cdc_flow(target="cdc_customers", source="cdc_changes", keys=["id"], sequence_by=F.col("seq"),
                             apply_as_deletes=F.expr("operation = 'DELETE'"), except_column_list=["operation"],
                             stored_as_scd_type=1)
    """

HISTORY = """
    import dlt

    dlt.create_target_table("cdc_history")
    dlt.apply_changes(target="cdc_history", source="cdc_changes", keys=["id"], sequence_by="seq",
                      apply_as_deletes="operation = 'DELETE'", except_column_list=["operation"],
                      stored_as_scd_type="2")
    """

SNAPSHOTS = """
    import dlt
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    SCHEMA = StructType([StructField("id", LongType()), StructField("name", StringType())])

    SNAPSHOTS = {
        1: [(1, "a"), (2, "b")],
        2: [(1, "a2"), (2, "b")],
        3: [(1, "a2"), (3, "c")],
    }

    def next_snapshot(latest):
        version = 1 if latest is None else latest + 1
        if version not in SNAPSHOTS:
            return None
        return spark.createDataFrame(SNAPSHOTS[version], SCHEMA), version

    dlt.create_streaming_table("snap_current")
    dlt.create_auto_cdc_from_snapshot_flow(target="snap_current", source=next_snapshot, keys=["id"])
    """

SNAPSHOT_HISTORY = SNAPSHOTS.split("dlt.create_streaming_table")[0] + """
    dlt.create_streaming_table("snap_history")
    dlt.apply_changes_from_snapshot(target="snap_history", source=next_snapshot, keys=["id"], stored_as_scd_type=2)
    """


def test_auto_cdc_flows_become_the_local_scd_tables(pipelines):
    config = pipelines.project("cdc", {"cdc_customers": CHANGES, "cdc_history": HISTORY})
    pipelines.ok(config)
    assert pipelines.rows("cdc_customers") == [{"id": 1, "name": "b", "seq": 3}, {"id": 3, "name": "z", "seq": 5}]
    history = [(r["id"], r["name"], r["__START_AT"], r["__END_AT"]) for r in pipelines.rows("cdc_history")]
    assert history == [(1, "a", 1, 2), (1, "b", 3, None), (1, "old", 2, 3), (2, "x", 1, 2), (3, "z", 5, None)]


def test_snapshots_give_scd1_and_scd2_from_a_function(pipelines):
    config = pipelines.project("snap", {"snap_current": SNAPSHOTS, "snap_history": SNAPSHOT_HISTORY})
    pipelines.ok(config)
    assert pipelines.rows("snap_current") == [{"id": 1, "name": "a2"}, {"id": 3, "name": "c"}]
    history = [(r["id"], r["name"], r["__START_AT"], r["__END_AT"]) for r in pipelines.rows("snap_history")]
    assert history == [(1, "a", 1, 2), (1, "a2", 2, None), (2, "b", 1, 3), (3, "c", 3, None)]


def test_scd2_from_a_snapshot_table_is_refused_with_the_reason(pipelines):
    config = pipelines.project("snap_table", {"snap_table_history": """
        import dlt

        dlt.create_streaming_table("snap_table_history")
        dlt.create_auto_cdc_from_snapshot_flow(target="snap_table_history", source="some_table", keys=["id"],
                                               stored_as_scd_type=2)
        """})
    outcome = pipelines.run(config)
    assert outcome.returncode != 0
    assert "a table keeps only its current snapshot" in "\n".join(outcome.lines)


STREAMED_CHANGES = """
    from pyspark import pipelines as dp
    from pyspark.sql.functions import col, expr

    @dp.table(name="sv_raw")
    def sv_raw():
        return (spark.readStream.format("cloudFiles").option("cloudFiles.format", "json")
                .option("cloudFiles.inferColumnTypes", "true")
                .load(spark.conf.get("etl_assets.landing_path") + "/sv_changes"))

    # A streaming temporary view with a drop expectation feeds both AUTO CDC targets.
    @dp.temporary_view(name="sv_clean")
    @dp.expect_or_drop("valid_id", "id IS NOT NULL")
    def sv_clean():
        return spark.readStream.table("sv_raw")

    for target, scd_type in (("sv_current", "1"), ("sv_history", "2")):
        dp.create_streaming_table(name=target)
        dp.create_auto_cdc_flow(target=target, source="sv_clean", keys=["id"], sequence_by=col("seq"),
                                apply_as_deletes=expr("operation = 'DELETE'"),
                                except_column_list=["operation", "_rescued_data"], stored_as_scd_type=scd_type)
    """


def test_auto_cdc_from_a_streaming_view_with_expectations(pipelines):
    pipelines.landed("sv_changes", {"1.json": "\n".join([
        '{"id": 1, "name": "a", "operation": "APPEND", "seq": 1}',
        '{"id": 1, "name": "b", "operation": "UPDATE", "seq": 2}',
        '{"id": null, "name": "dropped", "operation": "APPEND", "seq": 3}',
        '{"id": 2, "name": "x", "operation": "APPEND", "seq": 1}',
        '{"id": 2, "name": null, "operation": "DELETE", "seq": 4}',
    ]) + "\n"})
    config = pipelines.project("sv", {"sv_raw": STREAMED_CHANGES, "sv_current": "", "sv_history": ""},
                               depends={"sv_current": ["sv_raw"], "sv_history": ["sv_raw"]})
    pipelines.ok(config)
    assert pipelines.rows("sv_current") == [{"id": 1, "name": "b", "seq": 2}]
    history = [(r["id"], r["name"], r["__START_AT"], r["__END_AT"]) for r in pipelines.rows("sv_history")]
    assert history == [(1, "a", 1, 2), (1, "b", 2, None), (2, "x", 1, 4)]
