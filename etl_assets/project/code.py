"""What a transformation file holds, read from its code (no Spark, no Dagster): the line where
each dataset is defined, and a version that changes when the file or a helper it imports does."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from etl_assets.conventions import by_config_name
from etl_assets.project.config import Expectation
from etl_assets.project.source_facts import DatasetFacts
from etl_assets.translation.sources import datasets_defined, datasets_in_python, reads_in_python, statement_levels

_PACKAGE = "etl_assets"
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
# The modules a transformation may import that ship in the pipeline's wheel.
_HELPERS = ("etl_assets.ldp", "etl_assets.conventions")
# Parsing is skipped for files that cannot define a dataset nor import a helper (thousands of
# files are read when the code location loads).
_WORTH_PARSING = re.compile(rb"table|materialized_view|auto_cdc|etl_assets")


# Files without any of these declare no expectation: they are not read for one.
_MAY_EXPECT = re.compile(rb"expect|Rule\(|CONSTRAINT", re.IGNORECASE)
# Nor read a table by name without one of these.
_MAY_READ = re.compile(rb"\.(?:table|sql|read|read_stream)\(|auto_cdc|apply_changes")


@dataclass(frozen=True)
class CodeFacts:
    """`datasets`: name -> line of its definition; `version`: a digest of the file and the
    `etl_assets.ldp` helper modules it imports (directly or through each other);
    `expectations`: dataset name -> the rules its code declares; `reads`: dataset name -> the
    tables and views its code reads by name, as written (`spark.read.table`, `dlt.read`,
    literal `spark.sql` text, a SQL query's FROM / JOIN)."""

    datasets: dict[str, int]
    version: str
    expectations: dict[str, tuple[Expectation, ...]] = field(default_factory=dict)
    reads: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def as_tables(self, catalog: str | None, schema: str | None) -> CodeFacts:
        """These facts keyed by the config table each dataset name stands for in a pipeline with
        this catalog and schema (`main.sales.orders`, `sales.orders`, `LIVE.orders` are `orders`)."""
        if not any("." in name or "`" in name for name in (*self.datasets, *self.expectations, *self.reads)):
            return self
        return CodeFacts(by_config_name(self.datasets, catalog, schema), self.version,
                         by_config_name(self.expectations, catalog, schema), by_config_name(self.reads, catalog, schema))


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
    cache = _current_cache
    if cache is not None:
        known = cache.get(name, stat.st_mtime_ns, stat.st_size)
        if known is not None:
            return known
    facts = _facts(name, stat.st_mtime_ns, stat.st_size)
    if cache is not None:
        cache.put(name, stat.st_mtime_ns, stat.st_size, facts)
    return facts


class FactsCache:
    """Code facts kept on disk between loads, keyed by each file's path, mtime and size (as
    git's index keeps file digests): a code location that loads again reads and parses only
    the files that changed. Dropped whole when the `etl_assets.ldp` helpers change, since
    versions include them. An unreadable or unwritable cache is no cache, never an error."""

    FORMAT = 2

    def __init__(self, file: Path):
        self.file = file
        self.entries: dict[str, list[Any]] = {}
        self.changed = False
        self.helpers = _all_helpers_digest()
        try:
            data = json.loads(file.read_bytes())
            if data.get("format") == self.FORMAT and data.get("helpers") == self.helpers:
                self.entries = data["files"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass

    def get(self, path: str, mtime_ns: int, size: int) -> CodeFacts | None:
        """The facts recorded for this version of the file, if any."""
        entry = self.entries.get(path)
        if not entry or entry[0] != mtime_ns or entry[1] != size:
            return None
        try:
            expectations = {name: tuple(Expectation(name=n, condition=c, action=a) for n, c, a in rules)
                            for name, rules in entry[4].items()}
            reads = {name: tuple(names) for name, names in entry[5].items()}
            return CodeFacts(dict(entry[3]), str(entry[2]), expectations, reads)
        except (TypeError, ValueError, IndexError, AttributeError):
            return None

    def put(self, path: str, mtime_ns: int, size: int, facts: CodeFacts) -> None:
        """Record the facts of this version of the file."""
        self.entries[path] = [mtime_ns, size, facts.version, facts.datasets,
                              {name: [[e.name, e.condition, e.action] for e in rules]
                               for name, rules in facts.expectations.items()},
                              {name: list(names) for name, names in facts.reads.items()}]
        self.changed = True

    def save(self) -> None:
        """Write the cache if anything was added (atomically; errors ignored)."""
        if not self.changed:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.file.with_name(f".{self.file.name}.{os.getpid()}")
            temporary.write_text(json.dumps({"format": self.FORMAT, "helpers": self.helpers, "files": self.entries}))
            os.replace(temporary, self.file)
        except OSError:
            pass


_current_cache: FactsCache | None = None
CACHE_ENV = "ETL_ASSETS_CODE_CACHE"


@contextmanager
def facts_cache(root: Path, setting: str | None = None) -> Iterator[None]:
    """Within the block, `code_facts` uses the disk cache of the project at `root`
    (`<root>/.etl_assets/cache/code_facts.json`, or the file `setting` names; `off` disables
    it). The default code location takes `setting` from $ETL_ASSETS_CODE_CACHE."""
    global _current_cache
    setting = setting or ""
    if setting.lower() in ("off", "0", "false", "no"):
        yield
        return
    previous = _current_cache
    _current_cache = FactsCache(Path(setting) if setting else root / ".etl_assets" / "cache" / "code_facts.json")
    try:
        yield
        _current_cache.save()
    finally:
        _current_cache = previous


def _all_helpers_digest() -> str:
    """One digest of every helper module a transformation may import."""
    digest = hashlib.sha256()
    for helper in _HELPERS:
        file = _module_file(helper)
        folder = file.parent if file is not None and file.name == "__init__.py" else None
        files = sorted(folder.glob("*.py")) if folder is not None else [file] if file is not None else []
        for path in files:
            digest.update(path.name.encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=None)
def _facts(path: str, mtime_ns: int, size: int) -> CodeFacts:
    # os.open and os.read: at thousands of small files, a buffered file object costs as much as the read.
    descriptor = os.open(path, os.O_RDONLY)
    try:
        chunks = [os.read(descriptor, size + 1)]
        while chunks[-1]:  # the file grew since its stat
            chunks.append(os.read(descriptor, 1 << 16))
    finally:
        os.close(descriptor)
    source = b"".join(chunks)
    digest = hashlib.sha256(source)
    datasets: dict[str, int] = {}
    expectations: dict[str, tuple[Expectation, ...]] = {}
    reads: dict[str, tuple[str, ...]] = {}
    if _is_plain_python(path, source):
        if _WORTH_PARSING.search(source):
            try:
                tree = ast.parse(source, filename=path)
            except (SyntaxError, ValueError):
                tree = None
            if tree is not None:
                if _MAY_EXPECT.search(source):
                    expectations = _expectations(datasets_in_python(_without_bodies(tree)))
                datasets = _datasets(tree, source)
                if _MAY_READ.search(source):
                    reads = reads_in_python(tree)
                helpers = _imported_helpers(tree, "")
                if helpers:
                    digest.update(_helpers_fingerprint(frozenset(helpers)))
    else:  # SQL files and notebook sources: few, read whole
        try:
            facts = datasets_defined(path)
        except (SyntaxError, ValueError, UnicodeDecodeError, OSError):
            facts = {}
        datasets = {name: f.line for name, f in facts.items()}
        expectations = _expectations(facts)
        reads = {name: f.reads for name, f in facts.items() if f.reads}
    return CodeFacts(datasets, digest.hexdigest()[:16], expectations, reads)


def _is_plain_python(path: str, source: bytes) -> bool:
    return path.endswith(".py") and not source.lstrip(b"\xef\xbb\xbf").startswith(b"# Databricks notebook source")


def _expectations(facts: dict[str, DatasetFacts]) -> dict[str, tuple[Expectation, ...]]:
    return {name: tuple(Expectation(name=e.name, condition=e.condition, action=e.action) for e in f.expectations)
            for name, f in facts.items() if f.expectations}


def _without_bodies(tree: ast.Module) -> ast.Module:
    """The module with the bodies of its top-level functions emptied: expectations sit in the
    decorators, module constants and top-level calls, so the bodies need no walk."""
    body = [type(n)(name=n.name, args=n.args, body=[], decorator_list=n.decorator_list, lineno=n.lineno)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) else n for n in tree.body]
    return ast.Module(body=body, type_ignores=[])


def _datasets(tree: ast.Module, source: bytes) -> dict[str, int]:
    """The datasets of `tree` and their lines, walking only the decorated functions when no call can define a dataset.

    Walking every node of every file is most of the cost at thousands of files, and only a
    `create_streaming_table(...)` or `auto_cdc(...)` call needs the expressions: without either
    name in the source, the decorated functions are all there is to find.
    """
    if b"auto_cdc" in source or b"create_streaming_table" in source:
        return _lines(tree)
    return _lines(ast.Module(body=_decorated_functions(tree), type_ignores=[]))


def _lines(tree: ast.Module) -> dict[str, int]:
    """Dataset name -> the line defining it (the bundle check reads files the same way)."""
    return {name: facts.line for name, facts in datasets_in_python(tree).items()}


def _decorated_functions(tree: ast.Module) -> list[ast.stmt]:
    """The decorated functions of a module at any depth, in `ast.walk`'s (breadth first) order
    (`statement_levels`), each reduced to its name and decorators."""
    return [_name_and_decorators(n) for below in statement_levels(tree) for n in below
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.decorator_list]


def _name_and_decorators(node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.stmt:
    # A decorator call keeps its callee and `name=` only (what names a dataset), not the
    # expectations and other arguments a walk would otherwise visit.
    decorators = [ast.Call(func=d.func, args=[], keywords=[k for k in d.keywords if k.arg == "name"],
                           lineno=d.lineno) if isinstance(d, ast.Call) else d for d in node.decorator_list]
    return type(node)(name=node.name, args=_NO_ARGUMENTS, body=[], decorator_list=decorators, lineno=node.lineno)


_NO_ARGUMENTS = ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[])


@lru_cache(maxsize=None)
def _helpers_fingerprint(imported: frozenset[str]) -> bytes:
    """What the helper modules imported (and those they import) add to a file's digest; the
    same few import lines recur in thousands of files, so each set is resolved once."""
    return b"".join(module.encode() + _module_digest(module).encode()
                    for module in sorted(_helper_closure(set(imported))))


def imported_names(tree: ast.AST, package: str, *, nested: bool = True) -> Iterator[str]:
    """What each `import` or `from ... import` of the tree may import: `a.b` for `import a.b`; `a`
    and `a.x` for `from a import x` (`x` may be a module or a name in `a`), relative ones resolved
    from `package`. With `nested` false, only the statements at the top of a module.

    >>> sorted(imported_names(ast.parse("from .b import c"), "pkg.a"))
    ['pkg.a.b', 'pkg.a.b.c']
    """
    for node in ast.walk(tree) if nested else getattr(tree, "body", []):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _imported_helpers(tree: ast.AST, package: str) -> set[str]:
    """Helper modules an `import` or `from ... import` of the tree names (relative ones from `package`)."""
    # A transformation (no package) imports at the top.
    return {n for n in imported_names(tree, package, nested=bool(package))
            if n.startswith(_HELPERS) and _module_file(n) is not None}


def _helper_closure(modules: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(_helper_imports(module) - seen)
    return seen


@lru_cache(maxsize=None)
def _helper_imports(module: str) -> frozenset[str]:
    file = _module_file(module)
    if file is None:
        return frozenset()
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    return frozenset(_imported_helpers(ast.parse(file.read_bytes()), package))


@lru_cache(maxsize=None)
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
