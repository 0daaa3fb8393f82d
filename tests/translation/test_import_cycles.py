"""No import cycle between etl_assets modules: every `import` counts, also those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import etl_assets
from etl_assets.project.code import imported_names
from etl_assets.project.graph import find_cycles

PACKAGE = Path(etl_assets.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for target in imported_names(ast.parse(path.read_text(), str(path)), package):
            # A module's own packages are imported before it whatever it says: no edge.
            if target in modules and target != name and not name.startswith(target + "."):
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One closed import path per set of modules importing each other (the config's cycle finder)."""
    return find_cycles(sorted(graph), {name: sorted(targets) for name, targets in graph.items()})


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_module_of_etl_assets_imports_one_that_imports_it_back():
    assert _cycles(_imports()) == []


def test_the_local_client_and_the_compatibility_layer_import_each_other_no_more():
    graph = _imports()
    assert "etl_assets.engines.local.compat" in graph["etl_assets.engines.local.client"]
    assert not any("etl_assets.engines.local.client" in graph[m] for m in graph if ".compat" in m)


def test_the_translation_package_does_not_reach_back_into_the_rules():
    graph = _imports()
    translation = [m for m in graph if m.startswith("etl_assets.translation")]
    assert translation
    for module in translation:
        assert not {t for t in graph[module] if t.startswith("etl_assets.project.")} - {"etl_assets.project.source_facts"}, module
