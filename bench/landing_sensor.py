"""What one tick of the landing sensor costs as a landing folder fills up.

    .venv/bin/python bench/landing_sensor.py --files 1000 10000 100000

One source whose files arrive one a minute, in one folder per day. For each size:
- the cursor kept between ticks, in bytes, against the baseline of remembering every name;
- the seconds to decide which files are new in a tick, against that baseline;
- on Databricks (the fake workspace of the tests on 127.0.0.1, the real databricks-sdk), the
  Files API requests one tick makes to list the volume folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from etl_assets.dagster.landing_sensor import new_files  # noqa: E402
from etl_assets.engines.databricks.volumes import volume_listing  # noqa: E402
from tests.support.fake_databricks import LANDING_VOLUME, FakeDatabricks  # noqa: E402

MINUTE_MS = 60_000


def arrivals(count: int) -> dict[str, int]:
    return {f"day-{n // 1440:04d}/part-{n:07d}.json": n * MINUTE_MS for n in range(count)}


def baseline_tick(listing: dict[str, int], seen: list[str]) -> tuple[list[str], list[str]]:
    """The earlier design: the cursor holds every name ever seen."""
    return sorted(set(listing) - set(seen)), sorted(listing)


def timed(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def volume_requests(count: int) -> int:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    with FakeDatabricks() as fake:
        for name, modified in arrivals(count).items():
            fake.files[f"{LANDING_VOLUME}/orders/{name}"] = modified
        w = WorkspaceClient(config=Config(host=fake.url, token=fake.token))
        before = len(fake.calls("GET", "/api/2.0/fs/directories"))
        listed = volume_listing(w, f"{LANDING_VOLUME}/orders")
        assert listed is not None and len(listed) == count
        return len(fake.calls("GET", "/api/2.0/fs/directories")) - before


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, nargs="+", default=[1000, 10000, 100000])
    args = parser.parse_args()
    print("| files | cursor bytes | x all names | tick seconds | x all names | Files API requests per tick |")
    print("|---:|---:|---:|---:|---:|---:|")
    for count in args.files:
        listing = arrivals(count)
        listing_next = {**listing, "day-9999/new.json": count * MINUTE_MS}
        _, state = new_files(listing, None)
        _, seen = baseline_tick(listing, [])
        ours_bytes, base_bytes = len(json.dumps(state)), len(json.dumps(seen))
        new, _ = new_files(listing_next, json.loads(json.dumps(state)))
        base_new, _ = baseline_tick(listing_next, seen)
        assert new == base_new == ["day-9999/new.json"], (new, base_new)
        ours = timed(lambda: new_files(listing_next, json.loads(json.dumps(state))))
        base = timed(lambda: baseline_tick(listing_next, json.loads(json.dumps(seen))))
        print(f"| {count:,} | {ours_bytes:,} | {ours_bytes / base_bytes:.3f} | {ours:.4f} | {ours / base:.2f} | "
              f"{volume_requests(count):,} |")


if __name__ == "__main__":
    main()
