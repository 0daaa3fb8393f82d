"""The kept state of an incremental AUTO CDC target is used only while it describes the target and
its feed as they are (file listings, no Spark): otherwise the target is recomputed in full."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl_assets.engines.local.compat import cdc_incremental
from etl_assets.engines.local.compat.cdc_incremental import (
    SNAPSHOTS,
    expect_state,
    forget_state,
    keep_states,
    plan,
    snapshot_plan,
    state_file,
)


def _streaming(location: Path, names: list[str]) -> None:
    """A streaming table: its files and the `_spark_metadata` log naming them."""
    (location / "_spark_metadata").mkdir(parents=True, exist_ok=True)
    for name in names:
        (location / name).write_bytes(b"PAR1")
    lines = ["v1", *(json.dumps({"path": f"file://{location / n}", "action": "add"}) for n in names)]
    (location / "_spark_metadata" / "0").write_text("\n".join(lines) + "\n")


def _view(location: Path, names: list[str]) -> None:
    """A materialized view: its files and the `_SUCCESS` marker."""
    location.mkdir(parents=True, exist_ok=True)
    for old in location.glob("*.parquet"):
        old.unlink()
    for name in names:
        (location / name).write_bytes(b"PAR1")
    (location / "_SUCCESS").write_text("")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cdc_incremental, "_PENDING", {})
    _streaming(tmp_path / "warehouse" / "feed", ["part-0.parquet"])
    _view(tmp_path / "warehouse" / "target", ["part-t0.parquet"])
    return tmp_path


def _plan(home: Path, full: bool = False) -> cdc_incremental.Plan:
    return plan(home, "target", "feed", ["id"], None, None, full)


def test_a_completed_run_keeps_the_state_and_the_next_run_is_incremental(home):
    assert _plan(home).reason == "no kept state"
    expect_state(home, "target", "feed")
    assert keep_states(lambda target: target == "other") == []  # not refreshed by the run: nothing kept
    assert keep_states(lambda target: True) == ["target"]
    chosen = _plan(home)
    assert chosen.incremental and chosen.applied == ("part-0.parquet",)
    assert chosen.base is not None and [p.name for p in chosen.base.iterdir()] == ["00000-part-t0.parquet"]
    assert _plan(home, full=True).reason == "full refresh"


def test_a_target_rewritten_without_its_state_is_recomputed(home):
    expect_state(home, "target", "feed")
    keep_states(lambda target: True)
    # A run that completed the target and not the state (failed later, interrupted, killed).
    _view(home / "warehouse" / "target", ["part-t1.parquet"])
    assert _plan(home).reason == "the kept state does not describe the target's current files"
    (home / "warehouse" / "target" / "_SUCCESS").unlink()
    assert not _plan(home).incremental


def test_a_rebuilt_feed_or_a_forgotten_state_is_recomputed(home):
    expect_state(home, "target", "feed")
    keep_states(lambda target: True)
    _streaming(home / "warehouse" / "feed", ["part-9.parquet"])
    assert "the feed was rebuilt" in _plan(home).reason
    forget_state(home, "target")
    assert _plan(home).reason == "no kept state"


def test_a_state_kept_for_another_feed_or_unreadable_is_no_state(home):
    expect_state(home, "target", "feed")
    keep_states(lambda target: True)
    assert plan(home, "target", "other_feed", ["id"], None, None, False).reason != ""
    assert not plan(home, "target", "other_feed", ["id"], None, None, False).incremental
    state_file(home, "target").write_text("{not json")
    assert _plan(home).reason == "no kept state"


def test_snapshot_targets_keep_the_last_version(home):
    assert snapshot_plan(home, "target", False).reason == "no kept state"
    expect_state(home, "target", SNAPSHOTS, 7)
    keep_states(lambda target: True)
    chosen = snapshot_plan(home, "target", False)
    assert chosen.incremental and chosen.version == 7
    assert not _plan(home).incremental  # a snapshot state is no change feed's
    _view(home / "warehouse" / "target", [])
    assert snapshot_plan(home, "target", False).reason == "the kept state does not describe the target's current files"
    keep_states(lambda target: True)  # a run that left the target without a file
    assert snapshot_plan(home, "target", False).reason == "the kept target has no rows (its columns are not known)"
    assert snapshot_plan(home, "target", True).reason == "full refresh"


def test_only_json_versions_are_kept():
    assert cdc_incremental.kept_version(3) and cdc_incremental.kept_version("2024-01-01")
    assert not cdc_incremental.kept_version((1, 2)) and not cdc_incremental.kept_version(object())
