"""The example's expected tables computed in plain Python from the generated JSON files.

Independent of Spark: what the local engine writes is compared with this.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

OPERATIONS = {"APPEND", "DELETE", "UPDATE"}
CUSTOMER_COLUMNS = ("id", "firstname", "lastname", "email", "address")


def _lines(folder: Path) -> list[str]:
    return [line for f in sorted(folder.glob("part-*.json")) for line in f.read_text().splitlines() if line]


def _parse(line: str) -> dict | None:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


def customer_events(landing: Path) -> tuple[int, list[dict]]:
    """(bronze row count, clean events) of the customers feed."""
    lines = _lines(landing / "customers")
    parsed = [_parse(line) for line in lines]
    clean = [r for r in parsed if r is not None and r["id"] is not None and r["operation"] in OPERATIONS]
    for r in clean:
        r["_seq"] = datetime.strptime(r["operation_date"], "%m-%d-%Y %H:%M:%S")
    return len(lines), clean


def scd1(events: list[dict]) -> set[tuple]:
    latest: dict[str, dict] = {}
    for e in events:
        if e["id"] not in latest or e["_seq"] > latest[e["id"]]["_seq"]:
            latest[e["id"]] = e
    return {tuple(e[c] for c in CUSTOMER_COLUMNS) for e in latest.values() if e["operation"] != "DELETE"}


def scd2(events: list[dict]) -> set[tuple]:
    return apply_changes(events, keys=("id",), columns=CUSTOMER_COLUMNS, scd_type=2,
                         is_delete=lambda e: e["operation"] == "DELETE")


def apply_changes(
    events: list[dict],
    *,
    keys: tuple[str, ...],
    columns: tuple[str, ...],
    scd_type: int,
    is_delete: Callable[[dict], bool] = lambda e: False,
    is_truncate: Callable[[dict], bool] = lambda e: False,
    tracked: tuple[str, ...] | None = None,
    ignore_null_updates: bool = False,
) -> set[tuple]:
    """AUTO CDC as documented, one event at a time in sequence order (`_seq`), like a MERGE per event.

    Type 1 rows are `columns`; type 2 rows add `__START_AT`, `__END_AT`. An upsert whose
    `tracked` columns (default: all `columns`) equal the open row's updates that row in place.
    """
    tracked = columns if tracked is None else tracked
    current: dict[tuple, dict] = {}
    closed: list[tuple] = []
    for e in sorted(events, key=lambda e: e["_seq"]):
        if is_truncate(e):
            current.clear()
            continue
        key = tuple(e[k] for k in keys)
        row = current.get(key)
        if is_delete(e):
            if row is not None:
                del current[key]
                closed.append((*(row[c] for c in columns), row["__START_AT"], e["_seq"]))
            continue
        values = {c: e[c] for c in columns}
        if ignore_null_updates and row is not None:
            values = {c: row[c] if v is None else v for c, v in values.items()}
        if row is not None and all(values[c] == row[c] for c in tracked):
            row.update(values)
            continue
        if row is not None:
            closed.append((*(row[c] for c in columns), row["__START_AT"], e["_seq"]))
        current[key] = {**values, "__START_AT": e["_seq"]}
    if scd_type == 1:
        return {tuple(r[c] for c in columns) for r in current.values()}
    return set(closed) | {(*(r[c] for c in columns), r["__START_AT"], None) for r in current.values()}


def history_agg(history: set[tuple]) -> set[tuple]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in history:
        values = dict(zip(CUSTOMER_COLUMNS, row))
        for i, column in enumerate(("address", "email", "firstname", "lastname")):
            counts[values["id"]][i] += values[column] is not None
    return {(key, *c) for key, c in counts.items()}


def orders(landing: Path, customers: set[tuple]) -> tuple[int, set[tuple], set[tuple]]:
    """(bronze row count, orders_silver rows, orders_gold rows)."""
    lines = _lines(landing / "orders")
    by_id = {row[0]: row for row in customers}
    silver = set()
    gold: dict[tuple, list] = defaultdict(lambda: [0, 0.0])
    for r in (_parse(line) for line in lines):
        if r is None or r["order_id"] is None:
            continue
        customer = by_id.get(r["customer_id"])
        first, last, email = (customer[1], customer[2], customer[3]) if customer else (None, None, None)
        silver.add((r["customer_id"], r["order_id"], r["amount"], r["order_ts"], first, last, email))
        bucket = gold[(r["customer_id"], r["order_ts"][:10])]
        bucket[0] += 1
        bucket[1] += r["amount"]
    return len(lines), silver, {(k[0], k[1], c, round(s, 2)) for k, (c, s) in gold.items()}
