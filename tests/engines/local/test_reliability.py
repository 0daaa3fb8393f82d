"""Data is never lost on the local engine: real signals, real concurrent runs, damaged state."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from dagster import instance_for_test, materialize

from etl_assets.dagster.assets import build_table_assets
from etl_assets.engines.local.guard import UpdateGuard
from etl_assets.engines.local.server import ensure_warm_spark, server_pids, stop_warm_spark
from etl_assets.engines.local.tables import count_rows, read_rows
from etl_assets.project.load import load_config
from tests.conftest import REPO, local_resource

PLAIN = REPO / "tests" / "scenarios" / "plain" / "config.yml"
STREAM = REPO / "tests" / "scenarios" / "stream" / "config.yml"
BIN = Path(sys.executable).parent


def start_run(config: Path, tmp_path: Path, select: str = "*", **env: str) -> subprocess.Popen[str]:
    """`dagster asset materialize` in a process group of its own, as a user starts it."""
    dagster_home = tmp_path / f"dagster_home_{time.monotonic_ns()}"
    dagster_home.mkdir()
    environment = {**os.environ, "ETL_ASSETS_CONFIG": str(config), "DAGSTER_HOME": str(dagster_home),
                   "PYTHONWARNINGS": "ignore", **env}
    return subprocess.Popen(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "etl_assets.definitions", "--select", select],
        cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )


def wait_for(process: subprocess.Popen[str], text: str, timeout: float = 300) -> list[str]:
    """Read the run's output until a line contains `text`."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        seen.append(line)
        if text in line:
            return seen
        assert time.monotonic() < deadline, f"no '{text}' within {timeout} s:\n{''.join(seen[-30:])}"
    raise AssertionError(f"the run ended without '{text}':\n{''.join(seen[-40:])}")


def finish(process: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def live_members(group: int) -> list[int]:
    """Processes of process group `group` that have not ended (zombies are left out)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def settled(home, pipeline: str, tables: list[str], timeout: float = 180) -> None:
    """Wait until no update of `pipeline` holds its locks (a run's clean-up is over)."""
    from etl_assets.engines.local.locks import update_locks

    with update_locks(home.locks, pipeline, tables, [], timeout=timeout, on_wait=lambda message: None):
        pass


def local_materialize(config: Path, run_config: dict | None = None):
    with instance_for_test() as instance:
        return materialize(build_table_assets(load_config(config)), instance=instance, raise_on_error=False,
                           resources={"engine": local_resource()}, run_config=run_config)


def land(home, name: str, ids: range) -> None:
    folder = home.landing / "events"
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f".{name}"
    staged.write_text("".join(json.dumps({"id": i, "batch": name}) + "\n" for i in ids))
    staged.rename(folder / name)


def events_count(home) -> int:
    _, rows = read_rows(home.table_location("events_count"))
    return rows[0]["count"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_update_leaves_every_view_as_it_was(local_home, tmp_path, sig):
    code, output = finish(start_run(PLAIN, tmp_path))
    assert code == 0, output[-3000:]
    assert count_rows(local_home.table_location("numbers_silver")) == 5

    run = start_run(PLAIN, tmp_path, ETL_ASSETS_TEST_SLOW_SILVER="3")
    wait_for(run, "numbers_silver RUNNING")
    os.killpg(run.pid, sig)  # what Ctrl-C (SIGINT to the process group) or a stop does
    code, output = finish(run)
    assert code != 0
    # `dagster asset materialize` may return while its step still stops the server and puts the
    # tables back; that step holds the pipeline's locks until it has, as any reader or writer sees.
    settled(local_home, "numbers", ["numbers_bronze", "numbers_silver", "numbers_gold"])
    for table, rows in {"numbers_bronze": 10, "numbers_silver": 5, "numbers_gold": 1}.items():
        assert count_rows(local_home.table_location(table)) == rows, (table, output[-3000:])
    assert UpdateGuard(local_home, "numbers").pending() == []
    # Nothing is left locked or broken: the next run works.
    code, output = finish(start_run(PLAIN, tmp_path))
    assert code == 0, output[-3000:]


@pytest.mark.slow
def test_ctrl_c_pressed_again_during_the_clean_up_still_puts_every_view_back(local_home, tmp_path):
    """Dagster forwards an interrupt to its step processes a second time (the executor's own
    termination request), and people press Ctrl-C more than once: neither may cut the step's
    clean-up short, which would leave the tables empty and the journal pending."""
    code, output = finish(start_run(PLAIN, tmp_path))
    assert code == 0, output[-3000:]
    run = start_run(PLAIN, tmp_path, ETL_ASSETS_TEST_SLOW_SILVER="3")
    wait_for(run, "numbers_silver RUNNING")
    # The output is read all along: a full pipe would stop the run from writing, hence ending.
    output_lines: list[str] = []
    reader = threading.Thread(target=lambda: output_lines.extend(run.stdout or ()), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while live_members(run.pid) and time.monotonic() < deadline:
        os.killpg(run.pid, signal.SIGINT)
        time.sleep(0.2)
        run.poll()  # reaps `dagster` once it ends: a zombie is no live member, but killpg still reaches it
    assert not live_members(run.pid), "the run's processes still live two minutes after Ctrl-C"
    reader.join(60)
    code, output = run.wait(60), "".join(output_lines)
    assert code != 0
    settled(local_home, "numbers", ["numbers_bronze", "numbers_silver", "numbers_gold"])
    assert UpdateGuard(local_home, "numbers").pending() == [], output[-3000:]
    for table, rows in {"numbers_bronze": 10, "numbers_silver": 5, "numbers_gold": 1}.items():
        assert count_rows(local_home.table_location(table)) == rows, (table, output[-3000:])


@pytest.mark.slow
def test_a_killed_update_is_put_back_by_the_next_one(local_home, tmp_path, monkeypatch):
    code, output = finish(start_run(PLAIN, tmp_path))
    assert code == 0, output[-3000:]
    run = start_run(PLAIN, tmp_path, ETL_ASSETS_TEST_SLOW_SILVER="3")
    wait_for(run, "numbers_silver RUNNING")
    os.killpg(run.pid, signal.SIGKILL)  # no clean-up at all
    finish(run)
    assert "numbers_silver" in UpdateGuard(local_home, "numbers").pending()
    # The next update puts the unfinished tables back before anything else; here it fails on
    # purpose, so what remains is exactly what was put back.
    monkeypatch.setenv("ETL_ASSETS_TEST_BREAK_SILVER", "1")
    result = local_materialize(PLAIN)
    assert not result.success
    assert count_rows(local_home.table_location("numbers_silver")) == 5
    assert count_rows(local_home.table_location("numbers_gold")) == 1
    assert UpdateGuard(local_home, "numbers").pending() == []


@pytest.mark.slow
def test_two_runs_of_one_pipeline_at_once_never_read_a_file_twice(local_home, tmp_path):
    land(local_home, "a.json", range(0, 10))
    land(local_home, "b.json", range(10, 20))
    first = start_run(STREAM, tmp_path, "events_bronze,events_count")
    second = start_run(STREAM, tmp_path, "events_bronze,events_count")
    (code1, out1), (code2, out2) = finish(first, 600), finish(second, 600)
    assert code1 == 0 and code2 == 0, (out1[-2000:], out2[-2000:])
    assert count_rows(local_home.table_location("events_bronze")) == 20
    assert events_count(local_home) == 20
    assert "waiting for update of pipeline 'events'" in out1 + out2


@pytest.mark.slow
def test_a_failed_full_refresh_never_moves_the_checkpoint_past_unwritten_data(local_home, monkeypatch):
    land(local_home, "a.json", range(0, 10))
    assert local_materialize(STREAM).success
    monkeypatch.setenv("ETL_ASSETS_TEST_BREAK_BRONZE", "1")
    failed = local_materialize(STREAM, {"ops": {"events": {"config": {"full_refresh": True}}}})
    assert not failed.success
    assert count_rows(local_home.table_location("events_bronze")) == 10
    monkeypatch.delenv("ETL_ASSETS_TEST_BREAK_BRONZE")
    land(local_home, "b.json", range(10, 20))
    assert local_materialize(STREAM).success
    assert count_rows(local_home.table_location("events_bronze")) == 20
    assert events_count(local_home) == 20


@pytest.mark.slow
def test_a_streaming_table_whose_files_were_deleted_is_refused_not_emptied(local_home):
    land(local_home, "a.json", range(0, 10))
    assert local_materialize(STREAM).success
    shutil.rmtree(local_home.table_location("events_bronze"))
    result = local_materialize(STREAM)
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    message = error.message + (error.cause.message if error.cause else "")
    assert "files of streaming table(s) events_bronze are gone" in message and "full_refresh" in message
    assert events_count(local_home) == 10  # downstream kept its data
    assert local_materialize(STREAM, {"ops": {"events": {"config": {"full_refresh": True}}}}).success
    assert count_rows(local_home.table_location("events_bronze")) == 10


@pytest.mark.slow
def test_a_server_killed_mid_run_ends_the_run_at_once_with_a_clear_message(local_home, tmp_path):
    run = start_run(PLAIN, tmp_path, ETL_ASSETS_TEST_SLOW_SILVER="5")
    wait_for(run, "numbers_silver RUNNING")
    started = time.monotonic()
    for pid in server_pids(local_home):
        os.kill(pid, signal.SIGKILL)
    code, output = finish(run, 240)
    assert code != 0
    assert time.monotonic() - started < 120
    assert "local Spark server" in output and "stopped during the run" in output


@pytest.mark.slow
def test_a_discovery_file_pointing_elsewhere_or_corrupt_is_replaced(local_home):
    local_home.prepare()
    foreign = socket.socket()
    foreign.bind(("127.0.0.1", 0))
    foreign.listen()
    try:
        # A live listener that is not Spark, under a live pid that is not a server.
        local_home.connect_discovery.write_text(json.dumps({
            "host": "localhost", "port": foreign.getsockname()[1], "token": "x", "pid": os.getpid(),
            "spark_version": "4.3.0"}))
        pid = ensure_warm_spark(local_home, start_timeout=240)
    finally:
        foreign.close()
    assert pid != os.getpid() and server_pids(local_home) == [pid]
    local_home.connect_discovery.write_text("{not json")
    assert ensure_warm_spark(local_home, start_timeout=240) != pid  # the unrecorded server was replaced
    local_home.connect_discovery.unlink()
    assert stop_warm_spark(local_home)  # found by its metastore, without the discovery file
    assert server_pids(local_home) == []


def test_generators_running_at_once_never_lose_a_file(local_home):
    runs = [subprocess.Popen([str(BIN / "etl-assets"), "generate-data", "--rows", "20", "--seed", str(seed),
                              "--config", str(STREAM)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for seed in range(4)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    for source in ("customers", "orders"):
        assert sorted(p.name for p in (local_home.landing / source).iterdir()) == [
            f"part-0000{i}.json" for i in range(4)]


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from etl_assets.engines.local.locks import update_locks
with update_locks(Path(sys.argv[1]), sys.argv[2], sys.argv[3].split(","), sys.argv[4].split(",") if sys.argv[4] else [],
                  timeout=float(sys.argv[5]), on_wait=lambda m: print(m, flush=True)):
    print("holding", flush=True)
    time.sleep(float(sys.argv[6]))
print("released", flush=True)
"""


def hold(root: Path, pipeline: str, writes: str, reads: str, timeout: float, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(root), pipeline, writes, reads, str(timeout),
                             str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_reader_waits_while_another_pipeline_rewrites_its_input(tmp_path):
    writer = hold(tmp_path, "customers_cdc", "customers", "", 10, 2)
    wait_for(writer, "holding", 30)
    reader = hold(tmp_path, "orders", "orders_silver", "customers", 30, 0)
    out, _ = reader.communicate(timeout=60)
    assert reader.returncode == 0
    assert "waiting for update of pipeline 'customers_cdc'" in out and "holding" in out
    writer.communicate(timeout=30)


def test_a_lock_held_too_long_fails_clearly_and_a_dead_holder_holds_nothing(tmp_path):
    holder = hold(tmp_path, "orders", "orders_silver", "", 10, 30)
    wait_for(holder, "holding", 30)
    second = hold(tmp_path, "orders", "orders_gold", "", 0.5, 0)
    out, _ = second.communicate(timeout=60)
    assert second.returncode != 0
    assert "still holds pipeline.orders.lock" in out and "lock_timeout_seconds" in out
    holder.kill()
    holder.communicate()
    third = hold(tmp_path, "orders", "orders_gold", "", 0.5, 0)
    assert third.communicate(timeout=60)[0].strip().endswith("released")
