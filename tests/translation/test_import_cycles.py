"""No import cycle between etl_assets modules: every `import` counts, also those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import etl_assets

PACKAGE = Path(etl_assets.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                # A module's own packages are imported before it whatever it says: no edge.
                if target in modules and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


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
