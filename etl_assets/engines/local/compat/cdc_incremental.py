"""Incremental AUTO CDC on the local engine: a run applies the new change rows to the kept target.

The result of AUTO CDC for one key depends only on the change events of that key (and, for
SCD type 1 with `apply_as_truncates`, on the truncates). So a run needs to recompute only the
keys that new change rows touch:

    target = (kept target rows of untouched keys) + scd(every change row of the touched keys)

where `scd` is the full recompute (`etl_assets.ldp.cdc.scd`), the same code that computes the
target from scratch. Late rows (an older sequence value arriving later), deletes, truncates,
`ignore_null_updates` and SCD type 2 history therefore mean exactly what they mean in the full
recompute: the touched keys' rows are the full recompute of those keys. A new truncate touches
every key.

What is kept, beside the target, in `<home>/cdc/<target>/state.json` (written by the pipeline
client once the run has completed, so never for a run that did not):

- `applied`: the names of the change feed's data files the target has applied;
- `target`: the names of the target's data files that this state describes.

New change rows are the feed's rows in files not applied yet. The state is used only when the
target's files are exactly those it names and every applied feed file is still there; anything
else (a failed or interrupted run that completed the target and not the state, a target put
back as it was, a feed rebuilt by a full refresh, a first run) recomputes the whole target, and
the state is written afresh. Using more rows than needed costs time only: recomputing a key
from all its changes is exact. Both lists are file listings (no Spark job reads them): the feed
is refreshed before the target in the same run and nothing else writes it meanwhile (the
pipeline's locks), so the feed's files when the run ends are the files the target read.

The old target is read from hard links of its files taken when the pipeline is defined
(`<home>/cdc/<target>/base/`): Spark empties a materialized view's folder before computing it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_FORMAT = 1
SNAPSHOTS = "<snapshots>"
"""The `source` of the kept state of a target computed from snapshots (`create_auto_cdc_from_snapshot_flow`)."""
# Targets defined in this process whose state a completed run keeps: target -> (home, feed or
# SNAPSHOTS, the last snapshot version).
_PENDING: dict[str, tuple[Path, str, Any]] = {}


def state_file(home: Path, target: str) -> Path:
    """Where the kept state of the AUTO CDC target `target` is."""
    return home / "cdc" / target.lower() / "state.json"


@dataclass(frozen=True)
class Plan:
    """How one run computes an AUTO CDC target: from scratch, or from `base` plus new changes.

    Args:
        incremental: apply only the new change rows to the kept target.
        reason: why the target is recomputed in full (empty when incremental).
        applied: names of the feed's files the kept target has applied.
        base: the folder holding hard links of the kept target's files (None: the target is empty).
        version: from snapshots, the last snapshot version the kept target has applied.
    """

    incremental: bool
    reason: str
    applied: tuple[str, ...] = ()
    base: Path | None = None
    version: Any = None


def output_keeps_keys(keys: Sequence[str], column_list: Sequence[str] | None,
                      except_column_list: Sequence[str] | None) -> bool:
    """Whether the target's rows carry the key columns (needed to tell which rows a key owns)."""
    if column_list:
        return all(k in column_list for k in keys)
    return not any(k in (except_column_list or ()) for k in keys)


def plan(home: Path | None, target: str, source: str, keys: Sequence[str], column_list: Sequence[str] | None,
         except_column_list: Sequence[str] | None, full_refresh: bool) -> Plan:
    """Decide, while the pipeline is defined, whether this run of `target` can be incremental.

    Reads only local files (the state's and the tables' Parquet files and logs), no Spark.
    """
    if full_refresh:
        return Plan(False, "full refresh")
    if home is None:
        return Plan(False, "no local home")
    if "." in source:
        return Plan(False, f"the change feed '{source}' is not a table of the pipeline's database")
    if not output_keeps_keys(keys, column_list, except_column_list):
        return Plan(False, "the target's columns leave out a key column")
    warehouse = home / "warehouse"
    source_location = warehouse / source.lower()
    if not (source_location / "_spark_metadata").is_dir():
        return Plan(False, f"the change feed '{source}' is not a streaming table (only appended files can be "
                           "told apart as new)")
    try:
        return _match(home, warehouse, source_location, target, source)
    except OSError as exc:
        return Plan(False, f"a kept file cannot be read ({exc})")


def _match(home: Path, warehouse: Path, source_location: Path, target: str, source: str) -> Plan:
    from etl_assets.engines.local.tables import data_files

    state = read_state(home, target, source)
    if state is None:
        return Plan(False, "no kept state")
    applied = set(state.get("applied", ()))
    kept = _kept_target(home, warehouse, target, state)
    if isinstance(kept, str):
        return Plan(False, kept)
    present = {f.name for f in data_files(source_location)}
    if not applied <= present:
        return Plan(False, f"files of the change feed '{source}' the target applied are gone (the feed was rebuilt)")
    return Plan(True, "", tuple(sorted(applied)), kept)


def _kept_target(home: Path, warehouse: Path, target: str, state: dict[str, Any]) -> Path | None | str:
    """The folder of hard links to the target's files when they are those the state describes
    (None: the target has no file), else why not."""
    from etl_assets.engines.local.tables import data_files

    target_location = warehouse / target.lower()
    target_files = data_files(target_location)
    if not (target_location / "_SUCCESS").is_file() or {f.name for f in target_files} != set(state.get("target", ())):
        return "the kept state does not describe the target's current files"
    if not target_files:  # an empty target (Spark wrote no file): nothing to keep
        return None
    base = home / "cdc" / target.lower() / "base"
    _link_files(target_files, base)
    return base


def snapshot_plan(home: Path | None, target: str, full_refresh: bool) -> Plan:
    """Whether this run of `target` (from a snapshot function) can start from the kept target:
    then only the snapshots after `Plan.version` are asked for."""
    if full_refresh:
        return Plan(False, "full refresh")
    if home is None:
        return Plan(False, "no local home")
    state = read_state(home, target, SNAPSHOTS)
    if state is None or "version" not in state:
        return Plan(False, "no kept state")
    try:
        kept = _kept_target(home, home / "warehouse", target, state)
    except OSError as exc:
        return Plan(False, f"a kept file cannot be read ({exc})")
    if isinstance(kept, str):
        return Plan(False, kept)
    if kept is None:
        return Plan(False, "the kept target has no rows (its columns are not known)")
    return Plan(True, "", (), kept, state["version"])


def kept_version(version: Any) -> bool:
    """Whether a snapshot version can be kept (and given back to the snapshot function as it was)."""
    try:
        return type(json.loads(json.dumps(version))) is type(version) and json.loads(json.dumps(version)) == version
    except (TypeError, ValueError):
        return False


def read_state(home: Path, target: str, source: str) -> dict[str, Any] | None:
    """The target's kept state (`applied` feed files or the snapshot `version`, and the `target`
    files it describes), or None when there is none readable or it was kept for another source."""
    try:
        data = json.loads(state_file(home, target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("source") != source.lower():
        return None
    return data


def expect_state(home: Path, target: str, source: str, version: Any = None) -> None:
    """Note that a completed run of this process keeps the state of `target` (see `keep_states`):
    the files of its change feed `source`, or with `source` SNAPSHOTS the last snapshot `version`."""
    _PENDING[target] = (home, source, version)


def keep_states(refreshed: Callable[[str], bool]) -> list[str]:
    """After a completed run: write the state of each target defined in this process that the run
    refreshed (`refreshed(target)`), from the files its feed and itself hold now. Returns them."""
    from etl_assets.engines.local.tables import data_files

    kept = []
    for target, (home, source, version) in sorted(_PENDING.items()):
        if not refreshed(target):
            continue
        warehouse = home / "warehouse"
        data: dict[str, Any] = {"format": _FORMAT, "source": source.lower(),
                                "target": sorted(f.name for f in data_files(warehouse / target.lower()))}
        if source == SNAPSHOTS:
            data["version"] = version
        else:
            data["applied"] = sorted(f.name for f in data_files(warehouse / source.lower()))
        path = state_file(home, target)
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        staged.write_text(json.dumps(data), encoding="utf-8")
        os.replace(staged, path)
        kept.append(target)
    return kept


def forget_state(home: Path, target: str) -> None:
    """Drop the kept state of `target`: its next run recomputes it from the whole feed."""
    state_file(home, target).unlink(missing_ok=True)


def _link_files(files: list[Path], folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for number, file in enumerate(files):
        # Spark never changes a written file: a hard link keeps this version readable after the
        # target's folder is emptied for its recompute.
        os.link(file, folder / f"{number:05d}-{file.name}")


def file_name() -> Any:
    """The name of the data file a row was read from. (A pipeline dataset read by name is not a
    bare file scan, so its `_metadata` column cannot be selected; `input_file_name` is evaluated
    at the scan. `substring_index` rather than a regular expression: at 200,000 rows the regular
    expression took 1.4 s of CPU, four times the rest of the scan.)"""
    from pyspark.sql import functions as F

    from etl_assets.engines.local.changes import ENGINE_FILE_NAME_MARK

    # The change tracker knows this expression by its mark: it does not make the target's query
    # count as nondeterministic (the feed's files, whose commit is tracked, decide it).
    return F.coalesce(F.substring_index(F.input_file_name(), "/", -1), F.lit(ENGINE_FILE_NAME_MARK))


def incremental_query(spark: Any, plan: Plan, source: str, keys: Sequence[str], apply_as_truncates: Any,
                      recompute: Any) -> Any:
    """The target from the kept rows of untouched keys and the recompute of the touched keys.

    Args:
        spark: the run's session.
        plan: an incremental plan (`plan(...)`).
        source: the change feed (a streaming table of the pipeline).
        keys: the key columns.
        apply_as_truncates: the truncate condition (a Column or SQL text) or None.
        recompute: the full recompute, a function of a DataFrame of change rows.
    """
    from functools import reduce

    from pyspark.sql import functions as F

    assert plan.incremental
    changes = spark.read.table(source)
    new = changes.where(~file_name().isin(list(plan.applied))) if plan.applied else changes
    names = [f"__etl_touched_{i}" for i in range(len(keys))]
    touched = F.broadcast(new.select(*(F.col(k).alias(n) for k, n in zip(keys, names))).distinct())

    def same_key(rows: Any) -> Any:
        return reduce(lambda a, b: a & b, (rows[k].eqNullSafe(touched[n]) for k, n in zip(keys, names)))

    history = changes.join(touched, on=same_key(changes), how="left_semi")
    kept = None
    if plan.base is not None:
        kept = spark.read.parquet(str(plan.base))
        kept = kept.join(touched, on=same_key(kept), how="left_anti")
    if apply_as_truncates is not None:
        is_truncate = F.expr(apply_as_truncates) if isinstance(apply_as_truncates, str) else apply_as_truncates
        is_truncate = F.coalesce(is_truncate, F.lit(False))
        # A new truncate empties the table as of its sequence value: every key is recomputed.
        truncated = F.broadcast(new.where(is_truncate).select(F.lit(True).alias("__etl_truncated")).limit(1))
        untouched = changes.join(touched, on=same_key(changes), how="left_anti")
        history = (history.where(~is_truncate)
                   .unionByName(changes.where(is_truncate))
                   .unionByName(untouched.join(truncated, on=F.lit(True), how="left_semi").where(~is_truncate)))
        if kept is not None:
            kept = kept.join(truncated, on=F.lit(True), how="left_anti")
    recomputed = recompute(history)
    return recomputed if kept is None else kept.unionByName(recomputed)
