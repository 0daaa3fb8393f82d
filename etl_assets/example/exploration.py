"""Profiles of raw JSON-lines landing files (the seed job's exploration task), in plain Python."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl_assets.conventions import is_data_file


@dataclass
class LandingProfile:
    """Rows, files, unparseable lines, null counts per field and value counts of one field."""

    files: int = 0
    rows: int = 0
    unparseable: int = 0
    nulls: Counter[str] = field(default_factory=Counter)
    values: Counter[str] = field(default_factory=Counter)

    @property
    def parsed(self) -> int:
        """Rows that were JSON objects."""
        return self.rows - self.unparseable

    def null_share(self, column: str) -> float:
        """The share of parsed rows where `column` is null (0.0 when no row parsed)."""
        return self.nulls[column] / self.parsed if self.parsed else 0.0


def profile_landing(folder: Path, count_values_of: str | None = None) -> LandingProfile:
    """Profile every JSON-lines file under `folder` (hidden and temporary files skipped)."""
    profile = LandingProfile()
    if not folder.exists():
        return profile
    for path in sorted(folder.glob("*.json")):
        if not is_data_file(path.name):
            continue
        profile.files += 1
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                profile.rows += 1
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    profile.unparseable += 1
                    continue
                if not isinstance(record, dict):
                    profile.unparseable += 1
                    continue
                profile.nulls.update(k for k, v in record.items() if v is None)
                if count_values_of is not None:
                    profile.values[str(record.get(count_values_of))] += 1
    return profile


MAX_UNPARSEABLE_SHARE = 0.01
MAX_NULL_KEY_SHARE = 0.05


@dataclass(frozen=True)
class KnownDataset:
    """What the exploration of a dataset of the example knows: its key and operation columns."""

    key: str
    operation: str | None = None


KNOWN = {"customers": KnownDataset(key="id", operation="operation"), "orders": KnownDataset(key="order_id")}


@dataclass(frozen=True)
class Finding:
    """One exploration check's outcome: passed, figures, and whether failing it blocks bronze."""

    check: str
    passed: bool
    figures: dict[str, Any]
    blocking: bool


def explore(folder: Path, dataset: str) -> list[Finding]:
    """The exploration checks of one landing folder: row count, unparseable rows and, for the
    example's datasets, the null key share and the operation mix."""
    known = KNOWN.get(dataset)
    profile = profile_landing(folder, known.operation if known else None)
    share = profile.unparseable / profile.rows if profile.rows else 0.0
    findings = [
        Finding("row_count", profile.rows > 0, {"rows": profile.rows, "files": profile.files}, True),
        Finding("unparseable_rows", share <= MAX_UNPARSEABLE_SHARE,
                {"unparseable_rows": profile.unparseable, "share": round(share, 4)}, True),
    ]
    if known:
        null_share = profile.null_share(known.key)
        findings.append(Finding("null_key_share", null_share <= MAX_NULL_KEY_SHARE,
                                {"column": known.key, "null_rows": profile.nulls[known.key],
                                 "share": round(null_share, 4)}, False))
    if known and known.operation:
        mix = dict(profile.values)
        findings.append(Finding("operation_mix", all(mix.get(op) for op in ("APPEND", "UPDATE", "DELETE")),
                                {f"{op.lower()}_rows": n for op, n in sorted(mix.items())}, False))
    return findings
