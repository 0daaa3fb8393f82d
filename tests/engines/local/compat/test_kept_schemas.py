"""Auto Loader's kept schemas: a folder's schema is read again only from what changed in it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pyspark.sql.types import StringType, StructField, StructType

from etl_assets.engines.local.compat import kept_schemas


class Inference:
    """Infers a JSON folder's schema as Spark's untyped inference does (every key a string
    column, sorted by name), and records which paths each call read."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, paths: list[str]) -> StructType:
        self.calls.append(sorted(Path(p).name for p in paths))
        keys: set[str] = set()
        for path in map(Path, paths):
            for file in ([path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())):
                for line in file.read_text().splitlines():
                    keys |= set(json.loads(line))
        return StructType([StructField(k, StringType()) for k in sorted(keys)])


def land(folder: Path, name: str, *rows: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_kept_schema_is_read_again_only_from_what_changed(tmp_path):
    home, landing = tmp_path / "home", tmp_path / "landing"
    infer = Inference()

    def schema() -> list[str]:
        return kept_schemas.infer(home, "json", [str(landing)], {"mode": "PERMISSIVE"}, infer).names

    land(landing, "1.json", {"id": 1, "name": "a"})
    assert schema() == ["id", "name"] and infer.calls == [["landing"]]
    # Nothing new: the kept schema, nothing read.
    assert schema() == ["id", "name"] and len(infer.calls) == 1
    # A new file with the same columns: only it is read.
    land(landing, "2.json", {"id": 2})
    assert schema() == ["id", "name"] and infer.calls[-1] == ["2.json"]
    # A new file with a new column: every file is read again.
    land(landing, "3.json", {"id": 3, "email": "x"})
    assert schema() == ["email", "id", "name"] and infer.calls[-2:] == [["3.json"], ["landing"]]
    # A file gone: every file is read again, and the schema shrinks with the folder.
    (landing / "3.json").unlink()
    assert schema() == ["id", "name"] and infer.calls[-1] == ["landing"]
    # A file rewritten in place: every file again.
    changed = land(landing, "2.json", {"id": 2, "phone": "y"})
    os.utime(changed, ns=(1, 1))
    assert schema() == ["id", "name", "phone"] and infer.calls[-1] == ["landing"]
    # Other options are another schema (the kept one is per folder and options).
    calls = len(infer.calls)
    kept_schemas.infer(home, "json", [str(landing)], {"mode": "FAILFAST"}, infer)
    assert len(infer.calls) == calls + 1


def test_what_a_listing_cannot_tell_is_inferred_each_time(tmp_path):
    home, landing = tmp_path / "home", tmp_path / "landing"
    land(landing / "day=1", "1.json", {"id": 1})
    infer = Inference()
    for options in ({}, {}, {"pathGlobFilter": "*.json"}):
        kept_schemas.infer(home, "json", [str(landing)], options, infer)
    kept_schemas.infer(home, "json", [str(landing) + "/*"], {}, infer)
    assert len(infer.calls) == 4 and not (home / "autoloader").exists()
    # Plain subfolders read with recursiveFileLookup are listed whole.
    land(landing / "round1", "2.json", {"id": 2, "x": 1})
    flat = {"recursiveFileLookup": "true"}
    kept_schemas.infer(home, "json", [str(landing)], flat, infer)
    kept_schemas.infer(home, "json", [str(landing)], flat, infer)
    assert len(infer.calls) == 5
    # No home (a run outside the local engine's home): nothing kept.
    kept_schemas.infer(None, "json", [str(landing)], flat, infer)
    assert len(infer.calls) == 6


def test_an_unreadable_kept_file_costs_one_inference(tmp_path):
    home, landing = tmp_path / "home", tmp_path / "landing"
    land(landing, "1.json", {"id": 1})
    infer = Inference()
    kept_schemas.infer(home, "json", [str(landing)], {}, infer)
    (kept,) = (home / "autoloader").iterdir()
    kept.write_text("{not json")
    assert kept_schemas.infer(home, "json", [str(landing)], {}, infer).names == ["id"]
    assert len(infer.calls) == 2
    kept_schemas.infer(home, "json", [str(landing)], {}, infer)
    assert len(infer.calls) == 2
