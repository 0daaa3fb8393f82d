"""What the Dagster side may import: the engine contract, never an engine's implementation, and
Dagster's public API only (users install this next to their own Dagster release); and where the
environment may be read: only at the edges."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.translation.test_import_cycles import PACKAGE, _imports

TESTS = Path(__file__).resolve().parents[1]


def test_the_dagster_side_imports_no_engine_implementation():
    graph = _imports()
    dagster_side = [m for m in graph if m.startswith("etl_assets.dagster")]
    assert dagster_side
    for module in dagster_side:
        implementation = {t for t in graph[module]
                          if t.startswith(("etl_assets.engines.local", "etl_assets.engines.databricks"))}
        assert not implementation, f"{module} imports {sorted(implementation)}"


def test_no_module_imports_private_dagster_modules():
    # The package and its tests alike: a test on a private name breaks at the next Dagster release.
    private = []
    for root in (PACKAGE, TESTS):
        for path in root.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                private += [f"{path.relative_to(root.parent)}: {n}" for n in names if n.startswith("dagster._")]
    assert private == []


# Where the environment may be read: the edges, where a code location, a command or a process is
# made. Everything else takes what it needs as arguments (a `Settings` object, paths).
ENVIRONMENT_EDGES = {
    "definitions.py": "the default code location: `Settings.from_env(os.environ)`",
    "cli.py": "the `etl-assets` command: --config's and --engine's defaults, ETL_ASSETS_DEBUG",
    "dagster/component.py": "a dg component's loading: what defs.yaml leaves out, as the default code location",
    "engines/local/client.py": "the Spark client process's own entry: the server's port and token its runner set",
    "engines/local/compat/volumes.py": "pipeline code inside the client process: the home its runner set",
    "engines/local/compat/names.py": "pipeline code inside the client process: the home its runner set",
    "engines/local/changes.py": "the client process's reads file; the variables pipeline code reads are its inputs",
    "engines/local/runner.py": "hands the environment on to the client process it starts",
    "engines/local/client_host.py": "the warm client host process: gives each forked client the environment its runner sent",
    "engines/local/server.py": "hands the environment on to the Spark server it starts",
    "engines/local/engine.py": "puts back pyspark's own Spark Connect variables after an in-process session",
    "engines/databricks/client.py": "names (never shows) the DATABRICKS_* variables the SDK's default chain took",
}


def _environment_reads(path) -> list[str]:
    reads = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Attribute) and node.attr in ("environ", "environb", "getenv", "getenvb")
                and isinstance(node.value, ast.Name) and node.value.id == "os"):
            reads.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            reads += [f"{path.relative_to(PACKAGE)}:{node.lineno}: from os import {a.name}" for a in node.names
                      if a.name in ("environ", "environb", "getenv", "getenvb")]
    return reads


def test_the_environment_is_read_only_at_the_edges():
    by_module = {path.relative_to(PACKAGE).as_posix(): _environment_reads(path) for path in PACKAGE.rglob("*.py")}
    outside = [read for module, reads in by_module.items() if module not in ENVIRONMENT_EDGES for read in reads]
    assert outside == [], "read the environment at an edge (see ENVIRONMENT_EDGES) and pass the value in"
    stale = [module for module in ENVIRONMENT_EDGES if not by_module.get(module)]
    assert stale == [], "these edges read no variable any more: take them off the list"
