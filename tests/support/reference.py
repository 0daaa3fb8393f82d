"""The example's expected tables computed in plain Python from the generated JSON files.

Independent of Spark: what the local engine writes is compared with this.
"""

from __future__ import annotations

import json
from collections import defaultdict
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
    by_key: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        by_key[e["id"]].append(e)
    rows = set()
    for history in by_key.values():
        history.sort(key=lambda e: e["_seq"])
        for i, e in enumerate(history):
            if e["operation"] == "DELETE":
                continue
            end = history[i + 1]["_seq"] if i + 1 < len(history) else None
            rows.add((*(e[c] for c in CUSTOMER_COLUMNS), e["_seq"], end))
    return rows


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
