"""What a transformation source declares, read without running it: its datasets and their
expectations (the shape shared by Python, SQL and notebook sources)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["warn", "drop", "fail"]
DatasetKind = Literal["streaming_table", "materialized_view", "view", "temporary_view"]


@dataclass(frozen=True)
class Expectation:
    """A data quality rule declared in code: `warn` keeps failing rows, `drop` drops them,
    `fail` stops the update."""

    name: str
    condition: str
    action: Action = "warn"


@dataclass(frozen=True)
class DatasetFacts:
    """One dataset a source defines: its name, the line of its definition, its kind, whether it
    is private to the pipeline (not published to the catalog), its expectations, the tables and
    views its code reads (names as written: `spark.read.table`, `dlt.read`, `spark.sql` text,
    a SQL query's FROM / JOIN), and the reads whose name is only known at run time (each
    described with its line)."""

    name: str
    line: int
    kind: DatasetKind
    private: bool = False
    expectations: tuple[Expectation, ...] = ()
    reads: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()


def add_dataset(found: dict[str, DatasetFacts], facts: DatasetFacts) -> None:
    """Record `facts` unless the name is already defined (the first definition wins); later
    expectations and reads for the same name (an AUTO CDC target declared first, the flows
    into a streaming table) are added to it."""
    known = found.get(facts.name)
    if known is None:
        found[facts.name] = facts
    elif facts.expectations or facts.reads or facts.unresolved:
        reads = known.reads + tuple(r for r in facts.reads if r not in known.reads)
        found[facts.name] = DatasetFacts(known.name, known.line, known.kind, known.private,
                                         known.expectations + facts.expectations, reads,
                                         known.unresolved + facts.unresolved)
