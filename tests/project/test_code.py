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


def test_the_disk_cache_serves_unchanged_files_and_rereads_changed_ones(tmp_path):
    import json
    import os

    from etl_assets.project.code import facts_cache

    source = tmp_path / "t.py"
    source.write_text('import dlt\n\n@dlt.table(name="t")\n@dlt.expect("ok", "x > 0")\ndef t():\n    return 1\n')
    with facts_cache(tmp_path):
        first = code_facts(source)
    cache_file = tmp_path / ".etl_assets" / "cache" / "code_facts.json"
    data = json.loads(cache_file.read_text())
    entry = data["files"][str(source)]
    assert entry[3] == {"t": 3} and entry[4] == {"t": [["ok", "x > 0", "warn"]]}
    # A cached entry is what a later load uses: mark it, and the mark comes back.
    entry[3] = {"t": 99}
    cache_file.write_text(json.dumps(data))
    with facts_cache(tmp_path):
        assert code_facts(source).datasets == {"t": 99}
        assert code_facts(source).expectations == first.expectations
    # A changed file (another mtime) is read again.
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with facts_cache(tmp_path):
        assert code_facts(source).datasets == {"t": 3}
    # Other helper modules invalidate every entry; `off` disables the cache.
    data = json.loads(cache_file.read_text())
    data["files"][str(source)][3] = {"t": 99}
    data["helpers"] = "something else"
    cache_file.write_text(json.dumps(data))
    with facts_cache(tmp_path):
        assert code_facts(source).datasets == {"t": 3}
    cache_file.unlink()
    with facts_cache(tmp_path, "off"):
        code_facts(source)
    assert not cache_file.exists()
    # Another file, when one is named.
    named = tmp_path / "elsewhere" / "facts.json"
    with facts_cache(tmp_path, str(named)):
        code_facts(source)
    assert named.is_file() and not cache_file.exists()


def test_an_unwritable_or_corrupt_cache_is_no_cache(tmp_path):
    from etl_assets.project.code import facts_cache

    source = tmp_path / "t.py"
    source.write_text('import dlt\n\n@dlt.table(name="t")\ndef t():\n    return 1\n')
    folder = tmp_path / ".etl_assets" / "cache"
    folder.mkdir(parents=True)
    (folder / "code_facts.json").write_text("{not json")
    with facts_cache(tmp_path):
        assert code_facts(source).datasets == {"t": 3}
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    with facts_cache(blocked):
        assert code_facts(source).datasets == {"t": 3}
