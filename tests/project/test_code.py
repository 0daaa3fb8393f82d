"""Code facts of a transformation file: the line defining each dataset and a code version."""

from __future__ import annotations

import ast
import hashlib
import textwrap

import pytest

from etl_assets.project.bundle import datasets_in
from etl_assets.project.code import code_facts

SOURCES = {
    "decorated at the top": """
        from pyspark import pipelines as dp

        @dp.table(name="events_bronze")
        def events_bronze():
            return None

        @dp.materialized_view
        def events_daily():
            return None
    """,
    "nested, repeated and in every kind of block": """
        from etl_assets.ldp import materialized_view, table

        try:
            import missing
        except ImportError:
            @table(name="a")
            def from_handler():
                pass

        match mode:
            case "x":
                @table
                def from_case():
                    pass

        if enabled:
            @materialized_view(name="a")
            def from_if():
                pass

        @table
        def outer():
            @table(name="inner")
            async def inner_fn():
                pass

        class Holder:
            @materialized_view(
                name="held",
            )
            def method(self):
                pass

            def plain(self):
                pass
    """,
    "calls": """
        from etl_assets.ldp import auto_cdc
        from pyspark import pipelines as dp

        dp.create_streaming_table("customers_scd2")
        auto_cdc(target="customers", source="customers_clean", keys=["id"])

        @dp.table(name="customers_clean")
        def clean():
            return None
    """,
    "no dataset": """
        import os

        def helper():
            return os.sep
    """,
}


@pytest.mark.parametrize("name", list(SOURCES))
def test_dataset_lines_are_those_of_a_full_walk(tmp_path, name):
    source = textwrap.dedent(SOURCES[name])
    path = tmp_path / "t.py"
    path.write_text(source)
    assert code_facts(path).datasets == datasets_in(ast.parse(source))


def test_dataset_lines_point_at_the_decorator(tmp_path):
    path = tmp_path / "t.py"
    path.write_text(textwrap.dedent(SOURCES["nested, repeated and in every kind of block"]))
    lines = path.read_text().splitlines()
    datasets = code_facts(path).datasets
    assert set(datasets) == {"a", "from_case", "outer", "inner", "held"}
    # `a` is defined twice: the shallower definition (inside `if`) comes first in a walk.
    assert lines[datasets["a"] - 1].strip() == '@materialized_view(name="a")'
    assert lines[datasets["held"] - 1].strip() == "@materialized_view("


def test_version_follows_the_content(tmp_path):
    path = tmp_path / "t.py"
    path.write_text("from etl_assets.ldp import table\n# one\n")
    first = code_facts(path).version
    path.write_text("from etl_assets.ldp import table\n# two\n")  # same size, another content
    second = code_facts(path).version
    assert second != first
    path.write_text("from etl_assets.ldp import table\n# one\n")
    assert code_facts(path).version == first


def test_same_content_same_version_wherever_it_lives(tmp_path):
    source = textwrap.dedent(SOURCES["calls"])
    (tmp_path / "a.py").write_text(source)
    (tmp_path / "b.py").write_text(source)
    assert code_facts(tmp_path / "a.py") == code_facts(tmp_path / "b.py")


def test_imported_helpers_count_in_the_version(tmp_path):
    with_helpers = tmp_path / "with.py"
    with_helpers.write_text("from etl_assets.ldp import table\n")
    without = tmp_path / "without.py"
    without.write_text("from pyspark.sql import functions\n")
    digest = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()[:16]  # noqa: E731
    assert code_facts(without).version == digest(without)
    assert code_facts(with_helpers).version != digest(with_helpers)


def test_sql_files_have_dataset_lines_and_broken_files_none(tmp_path):
    sql = tmp_path / "t.sql"
    sql.write_text("-- the t view\nCREATE MATERIALIZED VIEW t AS SELECT 1")
    broken = tmp_path / "broken.py"
    broken.write_text("@table(\ndef\n")
    assert code_facts(sql).datasets == {"t": 2} and code_facts(sql).version
    assert code_facts(broken).datasets == {} and code_facts(broken).version
    assert code_facts(tmp_path / "gone.py").version == "missing"
