"""Profiles of raw JSON-lines landing files (the seed job's exploration task), in plain Python."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LandingProfile:
    """Rows, files, unparseable lines, null counts per field and value counts of one field."""

    files: int = 0
    rows: int = 0
    unparseable: int = 0
    nulls: Counter = field(default_factory=Counter)
    values: Counter = field(default_factory=Counter)

    @property
    def parsed(self) -> int:
        return self.rows - self.unparseable

    def null_share(self, column: str) -> float:
        return self.nulls[column] / self.parsed if self.parsed else 0.0


def profile_landing(folder: Path, count_values_of: str | None = None) -> LandingProfile:
    """Profile every JSON-lines file under `folder` (hidden and temporary files skipped)."""
    profile = LandingProfile()
    if not folder.exists():
        return profile
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith((".", "_")):
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
