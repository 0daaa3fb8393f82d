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

What is kept, next to the target, in the pipeline's own hidden materialized view
`etl_cdc_state__<target>` (written by Spark in the same run, after the target):

- `source` rows: the names of the change feed's data files the target has applied;
- `target` rows: the names of the target's data files that this state describes.

New change rows are the feed's rows in files not applied yet. The state is used only when the
target's files are exactly those it names and every applied feed file is still there; anything
else (a failed or interrupted run that kept one and not the other, a feed rebuilt by a full
refresh, a first run) recomputes the whole target, and the state is written afresh. Using more
rows than needed costs time only: recomputing a key from all its changes is exact.

The old target is read from hard links of its files taken when the pipeline is defined
(`<home>/cdc/<target>/base/`): Spark empties a materialized view's folder before computing it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_PREFIX = "etl_cdc_state__"
_KIND = "kind"
_FILE = "file"


def state_dataset_name(target: str) -> str:
    """The hidden dataset holding the kept state of the AUTO CDC target `target`."""
    return f"{STATE_PREFIX}{target}"


@dataclass(frozen=True)
class Plan:
    """How one run computes an AUTO CDC target: from scratch, or from `base` plus new changes.

    Args:
        incremental: apply only the new change rows to the kept target.
        reason: why the target is recomputed in full (empty when incremental).
        applied: names of the feed's files the kept target has applied.
        base: the folder holding hard links of the kept target's files (None: the target is empty).
    """

    incremental: bool
    reason: str
    applied: tuple[str, ...] = ()
    base: Path | None = None


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
    except (OSError, ValueError) as exc:  # pyarrow's errors are ValueErrors: a file that cannot be read
        return Plan(False, f"a kept file cannot be read ({exc})")


def _match(home: Path, warehouse: Path, source_location: Path, target: str, source: str) -> Plan:
    from etl_assets.engines.local.tables import data_files

    state = read_state(warehouse / state_dataset_name(target).lower())
    if state is None:
        return Plan(False, "no kept state")
    applied, described = state
    target_location = warehouse / target.lower()
    # A file without rows names no row's file (the state is made from the rows): it holds nothing to keep.
    target_files = [f for f in data_files(target_location) if _rows(f)]
    if not (target_location / "_SUCCESS").is_file() or {f.name for f in target_files} != described:
        return Plan(False, "the kept state does not describe the target's current files")
    present = {f.name for f in data_files(source_location)}
    if not applied <= present:
        return Plan(False, f"files of the change feed '{source}' the target applied are gone (the feed was rebuilt)")
    if not target_files:  # an empty target (Spark wrote no file): nothing to keep
        return Plan(True, "", tuple(sorted(applied)))
    base = home / "cdc" / target.lower() / "base"
    _link_files(target_files, base)
    return Plan(True, "", tuple(sorted(applied)), base)


def _rows(file: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.read_metadata(file).num_rows)


def read_state(location: Path) -> tuple[set[str], set[str]] | None:
    """(applied feed files, described target files) of a state table, or None when there is none
    readable (never written, or cut short)."""
    from etl_assets.engines.local.tables import data_files

    if not (location / "_SUCCESS").is_file():
        return None
    files = data_files(location)
    try:
        import pyarrow.parquet as pq

        rows = [row for f in files for row in pq.read_table(f, columns=[_KIND, _FILE]).to_pylist()]
    except Exception:  # noqa: BLE001 (an unreadable state is no state: the target is recomputed)
        return None
    applied = {r[_FILE] for r in rows if r[_KIND] == "source" and r[_FILE]}
    described = {r[_FILE] for r in rows if r[_KIND] == "target" and r[_FILE]}
    return applied, described


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
    at the scan.)"""
    from pyspark.sql import functions as F

    return F.regexp_extract(F.input_file_name(), r"([^/]*)$", 1)


def state_query(spark: Any, target: str, source: str) -> Any:
    """The state the run leaves: the feed files read and the target files written.

    It reads the target, so Spark runs it after the target: a state is never newer than the
    target it describes."""
    from pyspark.sql import functions as F

    def files(table: str, kind: str) -> Any:
        return spark.read.table(table).select(F.lit(kind).alias(_KIND), file_name().alias(_FILE))

    return files(source, "source").unionByName(files(target, "target")).distinct()


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
