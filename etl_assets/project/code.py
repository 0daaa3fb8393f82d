"""What a transformation file holds, read from its code (no Spark, no Dagster): the line where
each dataset is defined, and a version that changes when the file or a helper it imports does."""

from __future__ import annotations

import ast
import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from etl_assets.project.bundle import datasets_in

_PACKAGE = "etl_assets"
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
# The modules a transformation may import that ship in the pipeline's wheel.
_HELPERS = ("etl_assets.ldp", "etl_assets.conventions")
# Parsing is skipped for files that cannot define a dataset nor import a helper (thousands of
# files are read when the code location loads).
_WORTH_PARSING = re.compile(rb"table|materialized_view|auto_cdc|etl_assets")


@dataclass(frozen=True)
class CodeFacts:
    """`datasets`: name -> line of its definition; `version`: a digest of the file and the
    `etl_assets.ldp` helper modules it imports (directly or through each other)."""

    datasets: dict[str, int]
    version: str


def code_facts(path: str | os.PathLike[str]) -> CodeFacts:
    """The facts of one transformation file; parsed once per content (files may define several
    tables). A file that is not Python (SQL, a notebook) or does not parse has no dataset lines.

    >>> code_facts(Path("transformations/gold/orders_gold.py")).datasets   # doctest: +SKIP
    {'orders_gold': 7}
    """
    name = os.fspath(path)
    try:
        stat = os.stat(name)
    except OSError:
        return CodeFacts({}, "missing")
    return _facts(name, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=None)
def _facts(path: str, mtime_ns: int, size: int) -> CodeFacts:
    with open(path, "rb") as file:
        source = file.read()
    digest = hashlib.sha256(source)
    datasets: dict[str, int] = {}
    if path.endswith(".py") and _WORTH_PARSING.search(source):
        try:
            tree = ast.parse(source, filename=path)
        except (SyntaxError, ValueError):
            tree = None
        if tree is not None:
            datasets = datasets_in(tree)
            for module in sorted(_helper_closure(_imported_helpers(tree, ""))):
                digest.update(module.encode())
                digest.update(_module_digest(module).encode())
    return CodeFacts(datasets, digest.hexdigest()[:16])


def _imported_helpers(tree: ast.AST, package: str) -> set[str]:
    """Helper modules an `import` or `from ... import` of the tree names (relative ones from `package`)."""
    found: set[str] = set()
    for node in ast.walk(tree) if package else getattr(tree, "body", []):  # a transformation imports at the top
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        found.update(n for n in names if _module_file(n) is not None and n.startswith(_HELPERS))
    return found


def _helper_closure(modules: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        file = _module_file(module)
        if file is not None:
            package = module if file.name == "__init__.py" else module.rpartition(".")[0]
            todo.extend(_imported_helpers(ast.parse(file.read_bytes()), package) - seen)
    return seen


def _module_file(module: str) -> Path | None:
    if not module.startswith(_PACKAGE + "."):
        return None
    base = _PACKAGE_DIR.joinpath(*module.split(".")[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=None)
def _module_digest(module: str) -> str:
    file = _module_file(module)
    return hashlib.sha256(file.read_bytes()).hexdigest() if file is not None else ""
