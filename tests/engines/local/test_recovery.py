"""Recovery on the local engine: a checkpoint reset keeps a streaming table's rows and reads its
whole source again; a full refresh rebuilds only the tables named; neither loses anything when
the update fails or is cut short."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from etl_assets.engines.local.guard import UpdateGuard
from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.recovery import checkpoint_reset, current_checkpoints
from etl_assets.engines.local.tables import read_rows
from etl_assets.errors import DataError
from etl_assets.project.load import load_config
from tests.conftest import REPO
from tests.engines.local.test_reliability import land
from tests.engines.local.test_reliability import local_materialize as materialize_config

STREAM = REPO / "tests" / "scenarios" / "stream" / "config.yml"


def local_materialize(run_config: dict | None = None):
    return materialize_config(STREAM, run_config)


def ids(home) -> list[int]:
    _, rows = read_rows(home.table_location("events_bronze"), 10_000)
    return sorted(r["id"] for r in rows)


def events_count(home) -> int:
    _, rows = read_rows(home.table_location("events_count"))
    return rows[0]["count"]


RESET = {"ops": {"events": {"config": {"reset_checkpoint_tables": ["events_bronze"]}}}}


@pytest.mark.slow
def test_a_checkpoint_reset_keeps_the_rows_and_reads_the_whole_source_again(local_home, monkeypatch):
    land(local_home, "a.json", range(0, 10))
    assert local_materialize().success
    land(local_home, "b.json", range(10, 20))
    result = local_materialize(RESET)
    assert result.success
    # The 10 rows it held are kept, and a.json and b.json are read again from the start.
    assert ids(local_home) == sorted([*range(0, 10), *range(0, 20)])
    assert events_count(local_home) == 30
    # The checkpoint goes on from there: the next update reads only what is new.
    land(local_home, "c.json", range(20, 25))
    assert local_materialize().success
    assert ids(local_home) == sorted([*range(0, 10), *range(0, 25)])
    # A reset whose update fails puts the checkpoint back: nothing is read twice afterwards.
    monkeypatch.setenv("ETL_ASSETS_TEST_BREAK_BRONZE", "1")
    assert not local_materialize(RESET).success
    assert len(ids(local_home)) == 35 and events_count(local_home) == 35
    monkeypatch.delenv("ETL_ASSETS_TEST_BREAK_BRONZE")
    land(local_home, "d.json", range(25, 30))
    assert local_materialize().success
    assert ids(local_home) == sorted([*range(0, 10), *range(0, 30)])
    # A full refresh of the one table rebuilds it from the source alone.
    full = local_materialize({"ops": {"events": {"config": {"full_refresh_tables": ["events_bronze"]}}}})
    assert full.success and ids(local_home) == list(range(0, 30)) and events_count(local_home) == 30
    # A view has no checkpoint: named for a reset, nothing starts.
    refused = local_materialize({"ops": {"events": {"config": {"reset_checkpoint_tables": ["events_count"]}}}})
    assert not refused.success and "events_count', which is not a streaming table" in failure_text(refused)


def failure_text(result) -> str:
    error = result.get_step_failure_events()[0].step_failure_data.error
    return error.message + (error.cause.message if error.cause else "")


def checkpoint_of(home: LocalHome, batches: int, sources: int = 1) -> Path:
    """A flow checkpoint and sink log as Spark lays them out (offsets, commits, a file source's
    seen-file log, Hadoop checksums), for tests that need no Spark."""
    folder = home.storage("events") / "_checkpoints" / "spark_catalog" / "default" / "events_bronze" / "events_bronze" / "0"
    for batch in range(batches):
        (folder / "offsets").mkdir(parents=True, exist_ok=True)
        (folder / "offsets" / str(batch)).write_text(
            "v1\n" + json.dumps({"batchWatermarkMs": 0, "batchTimestampMs": batch, "conf": {}}) + "\n"
            + "\n".join(json.dumps({"logOffset": batch}) for _ in range(sources)))
        (folder / "offsets" / f".{batch}.crc").write_bytes(b"crc")
        (folder / "commits").mkdir(parents=True, exist_ok=True)
        (folder / "commits" / str(batch)).write_text('v1\n{"nextBatchWatermarkMs":0}')
        (folder / "sources" / "0").mkdir(parents=True, exist_ok=True)
        (folder / "sources" / "0" / str(batch)).write_text(f'v1\n{{"path":"file:///landing/{batch}.json","batchId":{batch}}}')
        log = home.table_location("events_bronze") / "_spark_metadata"
        log.mkdir(parents=True, exist_ok=True)
        (log / str(batch)).write_text(f'v1\n{{"path":"file:///w/part-{batch}.parquet","action":"add"}}')
    (folder / "metadata").write_text('{"id":"q"}')
    return folder


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_reset_forgets_the_source_positions_of_the_last_two_batches_and_keeps_the_numbering(tmp_path):
    home = LocalHome(tmp_path / "home")
    folder = checkpoint_of(home, batches=3, sources=2)
    before_log = tree(home.table_location("events_bronze"))
    said = checkpoint_reset(home, "events", ["events_bronze"]).apply()
    assert said == ["events_bronze: checkpoint reset, its rows kept; the next batch (after batch 2) reads the "
                    "whole source again"]
    for batch in (1, 2):
        lines = (folder / "offsets" / str(batch)).read_text().splitlines()
        assert lines[0] == "v1" and json.loads(lines[1])["batchTimestampMs"] == batch and lines[2:] == ["-", "-"]
        assert not (folder / "offsets" / f".{batch}.crc").exists()
    assert (folder / "offsets" / "0").read_text().endswith('{"logOffset": 0}')  # older entries are not read
    assert sorted(p.name for p in (folder / "commits").iterdir()) == ["0", "1", "2"]
    assert not (folder / "sources").exists()
    assert tree(home.table_location("events_bronze")) == before_log  # the sink log and the data stay


def test_an_interrupted_reset_is_put_back_by_the_next_update(tmp_path):
    home = LocalHome(tmp_path / "home")
    checkpoint_of(home, batches=2)
    checkpoints = home.checkpoints("events", "events_bronze")[0]
    before = tree(checkpoints)
    guard = UpdateGuard(home, "events")
    guard.protect(["events_bronze"])
    checkpoint_reset(home, "events", ["events_bronze"]).apply()
    assert tree(checkpoints) != before
    # The process dies here; the next update of the pipeline finds the journal and puts it back.
    assert UpdateGuard(home, "events").recover() == ["events_bronze"]
    assert tree(checkpoints) == before


def test_what_cannot_be_reset_is_refused_before_anything_changes(tmp_path):
    home = LocalHome(tmp_path / "home")
    with pytest.raises(DataError, match="events_bronze has no streaming checkpoint"):
        checkpoint_reset(home, "events", ["events_bronze"])
    folder = checkpoint_of(home, batches=2)
    (folder / "state" / "0").mkdir(parents=True)
    os.remove(folder / "commits" / "1")
    before = tree(folder)
    with pytest.raises(DataError) as raised:
        checkpoint_reset(home, "events", ["events_bronze"])
    assert "keeps streaming state" in str(raised.value) and "batch 1 planned but not committed" in str(raised.value)
    assert "nothing was changed" in str(raised.value) and tree(folder) == before
    assert current_checkpoints(home, "events", "events_bronze") == [folder]


def test_a_full_refresh_of_some_tables_gives_the_client_both_lists(tmp_path):
    from etl_assets.engines.local.runner import LocalRunner

    config = load_config(REPO / "tests" / "scenarios" / "shop" / "config.yml")
    runner = LocalRunner(config, LocalHome(tmp_path / "home"))
    command = runner.command("orders", ["orders_bronze", "orders_silver", "orders_gold"], ["orders_silver"])
    assert command[5:] == ["--full-refresh", "orders_silver,etl_quality__orders_silver",
                           "--refresh", "orders_bronze,orders_gold"]
    assert runner.command("orders", ["orders_silver"], ["orders_silver"])[5:] == [
        "--full-refresh", "orders_silver,etl_quality__orders_silver"]
