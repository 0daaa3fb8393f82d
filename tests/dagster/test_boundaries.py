"""What the Dagster side may import: the engine contract, never an engine's implementation, and
Dagster's public API only (users install this next to their own Dagster release)."""

from __future__ import annotations

import ast

from tests.translation.test_import_cycles import PACKAGE, _imports


def test_the_dagster_side_imports_no_engine_implementation():
    graph = _imports()
    dagster_side = [m for m in graph if m.startswith("etl_assets.dagster")]
    assert dagster_side
    for module in dagster_side:
        implementation = {t for t in graph[module]
                          if t.startswith(("etl_assets.engines.local", "etl_assets.engines.databricks"))}
        assert not implementation, f"{module} imports {sorted(implementation)}"


def test_no_module_imports_private_dagster_modules():
    private = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            private += [f"{path.relative_to(PACKAGE)}: {n}" for n in names if n.startswith("dagster._")]
    assert private == []
