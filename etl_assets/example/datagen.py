"""Example raw data: the CDC tutorial's customer change events and orders, as JSON lines.

Each call appends one new file per source, so incremental runs can be shown. Output depends
only on the seed and on how many files are already there: the same seed gives the same files.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from etl_assets.errors import DataError

# The tutorial's operation mix (the remaining 9% falls to the first choices by weight).
OPERATIONS = (("APPEND", 0.5), ("DELETE", 0.1), ("UPDATE", 0.3), (None, 0.01))
NULL_ID_SHARE = 0.02
CUSTOMER_DATE_FORMAT = "%m-%d-%Y %H:%M:%S"
ORDER_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
START = datetime(2026, 1, 1)
_SLOTS = 64  # files whose timestamps can never collide with each other

FIRST = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Edsger", "Margaret", "Ken", "Frances", "Donald"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Dijkstra", "Hamilton", "Thompson", "Allen", "Knuth"]
STREETS = ["Main St", "Oak Ave", "Pine Rd", "Elm St", "Cedar Ln", "Maple Dr", "Lake Rd", "Hill St"]


@dataclass(frozen=True)
class GeneratedFile:
    """One written file: its path, rows written and malformed lines among them."""

    path: Path
    rows: int
    malformed: int


def customer_ids(seed: int, count: int) -> list[str]:
    """The pool of customer ids for a seed: stable across calls, so later files change earlier customers."""
    return [str(uuid.uuid5(uuid.NAMESPACE_OID, f"etl_assets/{seed}/{i}")) for i in range(count)]


DATASETS = ("customers", "orders")


def generate(
    landing: Path, rows: int = 1000, seed: int = 42, malformed_share: float = 0.005,
    datasets: tuple[str, ...] = DATASETS,
) -> list[GeneratedFile]:
    """Append one file of `rows` lines for each of `datasets` (customers, orders) under `landing`.

    >>> [f.path.name for f in generate(Path("/tmp/landing"), rows=10)]    # doctest: +SKIP
    ['part-00000.json', 'part-00000.json']
    """
    if rows < 1:
        raise DataError(f"rows must be at least 1, got {rows}: pass --rows 1 or more")
    unknown = set(datasets) - set(DATASETS)
    if unknown:
        raise DataError(f"no example data for {sorted(unknown)}; known: {', '.join(DATASETS)}")
    customers_dir, orders_dir = landing / "customers", landing / "orders"
    customers_dir.mkdir(parents=True, exist_ok=True)
    orders_dir.mkdir(parents=True, exist_ok=True)
    # Generators running at once would pick the same next file number: one at a time per landing.
    with open(landing / ".generate.lock", "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        return _generate(customers_dir, orders_dir, rows, seed, malformed_share, datasets)


def _generate(customers_dir: Path, orders_dir: Path, rows: int, seed: int, malformed_share: float,
              datasets: tuple[str, ...]) -> list[GeneratedFile]:
    index = max(_count_files(customers_dir), _count_files(orders_dir))
    rng = random.Random(f"{seed}/{index}")
    pool = customer_ids(seed, max(10, rows // 3))
    # Both are drawn, whichever is written, so one dataset's file does not depend on the other's.
    customers = _customer_lines(rng, pool, rows, index, malformed_share)
    orders = _order_lines(rng, pool, rows, index)
    written = []
    if "customers" in datasets:
        written.append(_write(customers_dir / f"part-{index:05d}.json", customers))
    if "orders" in datasets:
        written.append(_write(orders_dir / f"part-{index:05d}.json", orders))
    return written


def _count_files(folder: Path) -> int:
    return sum(1 for p in folder.glob("part-*.json"))


def _unique_times(rng: random.Random, rows: int, index: int) -> list[datetime]:
    # Distinct within a file (sampled without replacement) and across files (slot per file),
    # in random order: arrival order says nothing about sequence order.
    span = 365 * 24 * 3600 // _SLOTS
    if rows > span:
        raise DataError(f"at most {span} rows per file")
    return [START + timedelta(seconds=s * _SLOTS + index % _SLOTS) for s in rng.sample(range(span), rows)]


def _customer_lines(rng: random.Random, pool: list[str], rows: int, index: int, malformed_share: float) -> list[str]:
    operations = [operation for operation, _ in OPERATIONS]
    weights = [weight for _, weight in OPERATIONS]
    lines = []
    for when in _unique_times(rng, rows, index):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        record = {
            "id": None if rng.random() < NULL_ID_SHARE else rng.choice(pool),
            "firstname": first,
            "lastname": last,
            "email": f"{first}.{last}{rng.randrange(100)}@example.com".lower(),
            "address": f"{rng.randrange(1, 999)} {rng.choice(STREETS)}",
            "operation": rng.choices(operations, weights)[0],
            "operation_date": when.strftime(CUSTOMER_DATE_FORMAT),
        }
        line = json.dumps(record)
        if rng.random() < malformed_share:
            line = line[: len(line) // 2]  # a truncated record: unparseable
        lines.append(line)
    return lines


def _order_lines(rng: random.Random, pool: list[str], rows: int, index: int) -> list[str]:
    lines = []
    for when in _unique_times(rng, rows, index):
        amount = round(rng.uniform(1, 500), 2) if rng.random() >= 0.02 else round(-rng.uniform(0, 50), 2)
        lines.append(json.dumps({
            "order_id": None if rng.random() < 0.01 else str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "customer_id": rng.choice(pool),
            "amount": amount,
            "order_ts": when.strftime(ORDER_DATE_FORMAT),
        }))
    return lines


def _write(path: Path, lines: list[str]) -> GeneratedFile:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # hidden: Spark file sources skip dot files
    tmp.write_text("\n".join(lines) + "\n")
    try:
        # A link appears whole (a streaming read never sees half a file) and, unlike a rename,
        # never replaces a file already there.
        os.link(tmp, path)
    except FileExistsError:
        raise DataError(f"{path} already exists; nothing was overwritten. Generate again for the next file") from None
    finally:
        tmp.unlink()
    malformed = sum(1 for line in lines if not line.endswith("}"))
    return GeneratedFile(path, len(lines), malformed)
