"""One neutral event stream into Dagster results: materializations in dependency order, check
results per expectation, one PipelineFailedError, and the engine's iterator closed with the run."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetMaterialization,
    Failure,
    MaterializeResult,
    MetadataValue,
)

from etl_assets.dagster.results import check_outcomes, observed_events, stream_results
from etl_assets.engines.base import ObservedRefresh, RefreshRequest
from etl_assets.engines.events import (
    Link,
    Log,
    QualityReported,
    RunFinished,
    TableCompleted,
    TableFailed,
    TableSkipped,
    TableStarted,
    UpdateStarted,
)
from etl_assets.errors import EngineUnavailableError, EtlAssetsError, PipelineFailedError
from etl_assets.project.load import load_config

# sales_bronze -> sales_silver -> sales_gold, and returns_bronze beside them, in one pipeline.
SALES = """
    pipelines:
      sales: {name: sales_pipeline}
    tables:
      - {name: sales_bronze, layer: bronze, pipeline: sales}
      - name: sales_silver
        layer: silver
        pipeline: sales
        depends_on: [sales_bronze]
        expectations:
          - {name: valid_id, condition: id IS NOT NULL, action: drop}
          - {name: positive_amount, condition: amount > 0}
          - {name: known_store, condition: store IS NOT NULL, action: fail}
      - {name: sales_gold, layer: gold, pipeline: sales, depends_on: [sales_silver]}
      - {name: returns_bronze, layer: bronze, pipeline: sales}
"""
ALL = ["sales_gold", "returns_bronze", "sales_silver", "sales_bronze"]  # any order: the request's is not used
HINT = "declare the rule in transformations/silver/sales_silver.py"


@pytest.fixture
def config(project):
    return load_config(project(SALES))


@pytest.fixture
def log() -> logging.Logger:
    return logging.getLogger("etl_assets.test_results")


def request_for(config, tables=ALL) -> RefreshRequest:
    return RefreshRequest(config, config.pipelines["sales"], list(tables))


def keys_of(config) -> dict[str, AssetKey]:
    # Keys come from the mapping (the translator's), not from the table names.
    return {t.name: AssetKey(["lake", t.name]) for t in config.tables}


def value(metadata_value):
    return metadata_value.value if isinstance(metadata_value, MetadataValue) else metadata_value


def materialized(results) -> list[str]:
    return [r.asset_key.path[-1] for r in results if isinstance(r, MaterializeResult)]


def checks(results) -> dict[str, AssetCheckResult]:
    return {r.check_name: r for r in results if isinstance(r, AssetCheckResult)}


def collect(events, config, log, **kwargs) -> list:
    """The results of a stream, for a request of the tables the stream speaks of (a completed
    update that leaves a selected table out is a failure of its own, tested on its own)."""
    events = list(events)
    named = list(dict.fromkeys(e.table for e in events if isinstance(e, (TableCompleted, TableFailed, TableSkipped))))
    return list(stream_results(events, request_for(config, named or ALL), keys_of(config), log, **kwargs))


def test_materializations_come_out_in_dependency_order_as_soon_as_they_can(config, log):
    sent: list = []

    def engine():
        for event in [
            TableStarted("sales_gold"),
            TableCompleted("sales_gold", 1),  # a view may report before the tables it reads
            TableCompleted("returns_bronze", 4),
            TableCompleted("sales_silver", 2),
            TableCompleted("sales_bronze", 3),
            RunFinished("COMPLETED", "update 0007"),
        ]:
            sent.append(event)
            yield event

    out = []
    for result in stream_results(engine(), request_for(config), keys_of(config), log):
        if isinstance(result, MaterializeResult):
            out.append((result.asset_key.path[-1], sent[-1]))
    assert [table for table, _ in out] == ["returns_bronze", "sales_bronze", "sales_silver", "sales_gold"]
    # Each came out as soon as everything upstream of it had, before the run ended.
    assert [type(event).__name__ for _, event in out] == ["TableCompleted"] * 4
    assert out[0][1].table == "returns_bronze"
    assert {event.table for _, event in out[1:]} == {"sales_bronze"}


def test_materialization_metadata_is_typed_and_keys_come_from_the_mapping(config, log):
    completed = TableCompleted("sales_bronze", row_count=3, metadata={
        "update_url": Link("http://127.0.0.1/updates/7"), "table_location": Path("/warehouse/sales_bronze"),
        "num_output_rows": 3})
    (result,) = list(stream_results([completed, RunFinished("COMPLETED")], request_for(config, ["sales_bronze"]),
                                    keys_of(config), log))
    assert result.asset_key == AssetKey(["lake", "sales_bronze"])
    assert result.metadata["dagster/row_count"] == 3 and result.metadata["num_output_rows"] == 3
    assert result.metadata["update_url"] == MetadataValue.url("http://127.0.0.1/updates/7")
    assert result.metadata["table_location"] == MetadataValue.path("/warehouse/sales_bronze")


def test_columns_become_dagsters_column_schema(config, log):
    from dagster import TableColumn, TableSchema

    completed = TableCompleted("sales_bronze", row_count=1, metadata={"columns": [
        {"name": "id", "type": "bigint"}, {"name": "amount", "type": "decimal(10,2)", "description": "in euros"}]})
    (result,) = list(stream_results([completed, RunFinished("COMPLETED")], request_for(config, ["sales_bronze"]),
                                    keys_of(config), log))
    assert "columns" not in result.metadata
    assert result.metadata["dagster/column_schema"] == TableSchema(columns=[
        TableColumn("id", "bigint"), TableColumn("amount", "decimal(10,2)", description="in euros")])


def test_a_completed_stream_without_a_word_on_a_selected_table_is_never_a_success(config, log):
    results = []
    with pytest.raises(PipelineFailedError) as raised:
        for result in stream_results([TableCompleted("sales_silver", 2), TableCompleted("sales_gold", 1),
                                      RunFinished("COMPLETED", "update 0008")], request_for(config), keys_of(config),
                                     log):
            results.append(result)
    # What was reported stays reported (at the end: its upstream never came), and the step fails.
    assert materialized(results) == ["sales_silver", "sales_gold"]
    text = str(raised.value)
    assert "update 0008, completed without reporting sales_bronze, returns_bronze, so their state is UNKNOWN" in text
    assert "not refreshed: sales_bronze, returns_bronze; refreshed: sales_silver, sales_gold" in text


def test_check_results_per_expectation_with_the_hint_for_a_missing_rule(config, log):
    quality = QualityReported("sales_silver", {"valid_id": (9, 1), "positive_amount": (10, 0)}, dropped_records=1,
                              hint=HINT, metadata={"update_id": "update-0009"})
    results = collect([TableCompleted("sales_bronze", 10), TableCompleted("sales_silver", 9), quality,
                       RunFinished("COMPLETED")], config, log)
    assert [type(r).__name__ for r in results] == ["MaterializeResult", "MaterializeResult"] + ["AssetCheckResult"] * 3
    found = checks(results)
    assert [r.check_name for r in results[2:]] == ["valid_id", "positive_amount", "known_store"]
    assert all(r.asset_key == AssetKey(["lake", "sales_silver"]) for r in found.values())

    valid_id = found["valid_id"]
    assert valid_id.passed is False and valid_id.severity == AssetCheckSeverity.WARN
    assert {k: value(v) for k, v in valid_id.metadata.items()} == {
        "action": "drop", "condition": "id IS NOT NULL", "update_id": "update-0009", "rows_checked": 10,
        "passed_records": 9, "failed_records": 1, "dropped_records": 1, "failed_share": 0.1}
    positive = found["positive_amount"]
    assert positive.passed is True and value(positive.metadata["passed_records"]) == 10
    assert value(positive.metadata["failed_records"]) == 0 and value(positive.metadata["action"]) == "warn"
    # A rule of the config the update said nothing about fails, saying where to declare it.
    missing = found["known_store"]
    assert missing.passed is False and missing.severity == AssetCheckSeverity.ERROR
    assert value(missing.metadata["error"]) == (
        f"the update reported no results for expectation 'known_store': {HINT}")
    assert "passed_records" not in missing.metadata


TOLERANT = """
    pipelines:
      sales: {name: sales_pipeline}
    tables:
      - name: sales_silver
        layer: silver
        pipeline: sales
        expectations:
          - {name: valid_id, condition: id IS NOT NULL, action: drop, max_failed_share: 0.05}
          - {name: valid_store, condition: store IS NOT NULL, action: drop, max_failed_records: 2}
          - {name: positive_amount, condition: amount > 0}
"""


def test_a_drop_expectation_passes_within_its_tolerance_and_fails_beyond_it(project):
    config = load_config(project(TOLERANT))
    expectations = config.table("sales_silver").expectations

    def outcomes(counts):
        found = check_outcomes(expectations, QualityReported("sales_silver", counts))
        return {o["check_name"]: (o["passed"], {k: value(v) for k, v in o["metadata"].items()}) for o in found}

    within = outcomes({"valid_id": (98, 2), "valid_store": (98, 2), "positive_amount": (100, 0)})
    assert within["valid_id"][0] and within["valid_store"][0] and within["positive_amount"][0]
    assert within["valid_id"][1] == {
        "action": "drop", "condition": "id IS NOT NULL", "max_failed_share": 0.05, "rows_checked": 100,
        "passed_records": 98, "failed_records": 2, "dropped_records": 2, "failed_share": 0.02}
    assert within["valid_store"][1]["max_failed_records"] == 2
    beyond = outcomes({"valid_id": (94, 6), "valid_store": (97, 3), "positive_amount": (99, 1)})
    assert not beyond["valid_id"][0] and beyond["valid_id"][1]["failed_share"] == 0.06
    assert not beyond["valid_store"][0] and beyond["valid_store"][1]["dropped_records"] == 3
    # Without a tolerance one failing row fails the check; a warn rule drops nothing.
    assert not beyond["positive_amount"][0] and beyond["positive_amount"][1]["dropped_records"] == 0


def test_an_update_that_checked_no_rows_passes_every_check_with_zero_counts(config, log):
    quality = QualityReported("sales_silver", {}, rows_checked=0, hint=HINT)
    results = collect([TableCompleted("sales_bronze", 10), TableCompleted("sales_silver", 9), quality,
                       RunFinished("COMPLETED")], config, log)
    found = checks(results)
    assert {name: r.passed for name, r in found.items()} == {
        "valid_id": True, "positive_amount": True, "known_store": True}
    metadata = {k: value(v) for k, v in found["valid_id"].metadata.items()}
    assert (metadata["rows_checked"], metadata["passed_records"], metadata["failed_records"],
            metadata["failed_share"]) == (0, 0, 0, 0.0)
    assert "error" not in metadata
    # An engine that knows which rules the pipeline declares still says a rule is missing.
    declared = QualityReported("sales_silver", {"valid_id": (0, 0), "positive_amount": (0, 0)}, rows_checked=0,
                               declared_known=True, hint=HINT)
    found = checks(collect([TableCompleted("sales_bronze", 10), TableCompleted("sales_silver", 9), declared,
                            RunFinished("COMPLETED")], config, log))
    assert found["valid_id"].passed and found["positive_amount"].passed
    assert not found["known_store"].passed and HINT in value(found["known_store"].metadata["error"])


def test_quality_before_completion_waits_for_the_materialization(config, log):
    quality = QualityReported("sales_silver", {"valid_id": (2, 0), "positive_amount": (2, 0), "known_store": (2, 0)})
    results = collect([quality, TableCompleted("sales_silver", 2), TableCompleted("sales_bronze", 2),
                       RunFinished("COMPLETED")], config, log)
    assert [(type(r).__name__, r.asset_key.path[-1]) for r in results] == [
        ("MaterializeResult", "sales_bronze"), ("MaterializeResult", "sales_silver"),
        ("AssetCheckResult", "sales_silver"), ("AssetCheckResult", "sales_silver"),
        ("AssetCheckResult", "sales_silver")]
    assert all(r.passed for r in checks(results).values())


def test_a_table_without_any_quality_report_fails_each_of_its_checks(config, log):
    results = collect([TableCompleted("sales_bronze"), TableCompleted("sales_silver"), RunFinished("COMPLETED")],
                      config, log)
    found = checks(results)
    assert set(found) == {"valid_id", "positive_amount", "known_store"}
    assert not any(r.passed for r in found.values())
    assert value(found["valid_id"].metadata["error"]) == "the update reported no results for expectation 'valid_id'"


def test_checks_not_selected_are_not_yielded(config, log):
    silver = AssetKey(["lake", "sales_silver"])
    quality = QualityReported("sales_silver", {"valid_id": (1, 0), "positive_amount": (1, 0)}, hint=HINT)
    events = [TableCompleted("sales_bronze"), TableCompleted("sales_silver"), quality, RunFinished("COMPLETED")]
    results = collect(events, config, log, selected_checks=[AssetCheckKey(silver, "valid_id"),
                                                            AssetCheckKey(silver, "known_store")])
    assert set(checks(results)) == {"valid_id", "known_store"}
    assert materialized(results) == ["sales_bronze", "sales_silver"]
    assert checks(collect(events, config, log, selected_checks=[])) == {}


def test_logs_and_the_started_update_are_passed_on(config, log, caplog):
    started: list[UpdateStarted] = []
    update = UpdateStarted("sales_pipeline", "update-0010", "http://127.0.0.1/updates/10")
    with caplog.at_level(logging.DEBUG, logger=log.name):
        collect([Log("waiting for the cluster"), update, Log("slow flow", "warning"), TableCompleted("sales_bronze"),
                 RunFinished("COMPLETED")], config, log, on_update_started=started.append)
    assert started == [update]
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == log.name][:2] == [
        ("INFO", "waiting for the cluster"), ("WARNING", "slow flow")]


def test_a_failed_run_raises_one_failure_naming_every_table(config, log):
    events = [
        TableCompleted("sales_bronze", 3),
        TableFailed("sales_silver", "[UNRESOLVED_COLUMN] amount cannot be resolved"),
        TableSkipped("sales_gold", "upstream_failure"),
        TableSkipped("returns_bronze", "stopped"),
        RunFinished("FAILED", "update 0011", error_text="[UNRESOLVED_COLUMN] amount cannot be resolved",
                    metadata={"update_url": Link("http://127.0.0.1/updates/11")}),
    ]
    results = []
    with pytest.raises(PipelineFailedError) as info:
        for result in stream_results(events, request_for(config), keys_of(config), log):
            results.append(result)
    # What completed before the failure stays reported.
    assert materialized(results) == ["sales_bronze"]
    error = info.value
    assert isinstance(error, Failure) and isinstance(error, EtlAssetsError)
    assert error.description == (
        "pipeline 'sales_pipeline' failed (update 0011 FAILED); failed: sales_silver; "
        "skipped for an upstream failure: sales_gold; not refreshed: returns_bronze, sales_gold; "
        "refreshed: sales_bronze\n[UNRESOLVED_COLUMN] amount cannot be resolved")
    assert {k: value(v) for k, v in error.metadata.items()} == {
        "update_url": "http://127.0.0.1/updates/11", "failed": ["sales_silver"], "skipped": ["sales_gold"],
        "refreshed": ["sales_bronze"]}


def test_a_canceled_run_with_nothing_refreshed_says_none(config, log):
    with pytest.raises(PipelineFailedError) as info:
        collect([RunFinished("CANCELED", "update 0012")], config, log)
    assert info.value.description == (
        "pipeline 'sales_pipeline' failed (update 0012 CANCELED); failed: none reported; "
        "skipped for an upstream failure: none; "
        "not refreshed: sales_bronze, returns_bronze, sales_silver, sales_gold; refreshed: none")


def test_a_flow_that_completes_after_failing_is_not_counted_as_failed(config, log):
    results = []
    with pytest.raises(PipelineFailedError) as info:
        for result in stream_results([TableFailed("sales_bronze", "transient"), TableCompleted("sales_bronze", 3),
                                      TableFailed("sales_silver", "broken"), RunFinished("FAILED", "update 0014")],
                                     request_for(config, ["sales_bronze", "sales_silver"]), keys_of(config), log):
            results.append(result)
    assert materialized(results) == ["sales_bronze"]
    assert info.value.description == (
        "pipeline 'sales_pipeline' failed (update 0014 FAILED); failed: sales_silver; "
        "skipped for an upstream failure: none; not refreshed: none; refreshed: sales_bronze")


def test_a_stream_without_its_end_is_an_engine_error(config, log):
    results = []
    with pytest.raises(EngineUnavailableError) as info:
        for result in stream_results([TableCompleted("sales_bronze", 3)], request_for(config), keys_of(config), log):
            results.append(result)
    assert materialized(results) == ["sales_bronze"]
    assert not isinstance(info.value, PipelineFailedError)
    assert "the engine stopped without saying how pipeline 'sales_pipeline' ended" in str(info.value)


def test_closing_the_results_closes_the_engine(config, log):
    progress: list[str] = []

    def engine():
        try:
            progress.append("started")
            yield TableCompleted("sales_bronze", 3)
            progress.append("resumed")  # never reached: the run was terminated
            yield RunFinished("COMPLETED")
        finally:
            progress.append("stopped the update")

    events = engine()
    results = stream_results(events, request_for(config), keys_of(config), log)
    assert next(results).asset_key == AssetKey(["lake", "sales_bronze"])
    assert progress == ["started"]
    results.close()  # what Dagster does to a terminated step
    assert progress == ["started", "stopped the update"]
    assert events.gi_frame is None  # the engine's generator is finished


def test_observed_refresh_reports_completions_and_the_rules_it_counted(config):
    refresh = ObservedRefresh("sales", [
        TableStarted("sales_gold"),
        TableCompleted("sales_silver", 5, metadata={"update_url": Link("http://127.0.0.1/updates/13")}),
        QualityReported("sales_silver", {"valid_id": (5, 0), "positive_amount": (4, 1)}, hint=HINT),
        QualityReported("sales_gold", {"valid_id": (1, 0)}),  # no completion of sales_gold: nothing to report
        TableCompleted("sales_bronze", 6),
    ], key="update-0013", metadata={"observed": True, "update_id": "update-0013"})
    found = observed_events(refresh, config, keys_of(config))
    assert [(type(e).__name__, e.asset_key.path[-1]) for e in found] == [
        ("AssetMaterialization", "sales_silver"), ("AssetCheckEvaluation", "sales_silver"),
        ("AssetCheckEvaluation", "sales_silver"), ("AssetMaterialization", "sales_bronze")]
    silver = found[0]
    assert isinstance(silver, AssetMaterialization) and silver.asset_key == AssetKey(["lake", "sales_silver"])
    assert {k: value(v) for k, v in silver.metadata.items()} == {
        "update_url": "http://127.0.0.1/updates/13", "dagster/row_count": 5, "observed": True,
        "update_id": "update-0013"}
    evaluations = {e.check_name: e for e in found if isinstance(e, AssetCheckEvaluation)}
    # A rule the refresh did not count (known_store) is left out rather than failed.
    assert set(evaluations) == {"valid_id", "positive_amount"}
    assert evaluations["valid_id"].passed is True
    assert evaluations["positive_amount"].passed is False
    assert value(evaluations["positive_amount"].metadata["failed_records"]) == 1
    assert value(found[3].metadata["dagster/row_count"]) == 6 and value(found[3].metadata["observed"]) is True
