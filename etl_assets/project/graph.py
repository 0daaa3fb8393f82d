"""The table dependency graph: stages, tag selection, closures and pipeline order.

Pure Python over names, so it serves the validator, the CLI and the Dagster layer alike.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from etl_assets.project.config import ProjectConfig

TagMatch = Literal["all", "any"]


def find_cycles(nodes: Sequence[str], edges: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """One cycle per strongly connected component, as a closed path `[a, b, c, a]`.

    `edges[n]` lists what `n` points to; edges to unknown nodes are ignored. Iterative Tarjan,
    so deep graphs do not hit the recursion limit.

    >>> find_cycles(["a", "b", "c"], {"a": ["b"], "b": ["c"], "c": ["a"]})
    [['a', 'b', 'c', 'a']]
    """
    known = set(nodes)
    position = {n: i for i, n in enumerate(nodes)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter([e for e in edges.get(root, ()) if e in known]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter([e for e in edges.get(child, ()) if e in known])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                self_loop = node in edges.get(node, ())
                if len(component) > 1 or self_loop:
                    components.append(sorted(component, key=position.__getitem__))
    components.sort(key=lambda c: position[c[0]])
    return [_cycle_through(c[0], set(c), edges) for c in components]


def _cycle_through(start: str, members: set[str], edges: Mapping[str, Sequence[str]]) -> list[str]:
    """The shortest closed path from `start` back to itself inside one component."""
    previous: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for child in edges.get(node, ()):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if child in members and child not in seen:
                seen.add(child)
                previous[child] = node
                queue.append(child)
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def topological_levels(nodes: Sequence[str], edges: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Level of each node: 0 with no upstream, else 1 + the highest upstream level.

    `edges[n]` lists the upstream of `n`. The graph must be acyclic (validated config is).
    """
    known = set(nodes)
    downstream: dict[str, list[str]] = {n: [] for n in nodes}
    pending = {}
    for n in nodes:
        ups = [u for u in set(edges.get(n, ())) if u in known]
        pending[n] = len(ups)
        for u in ups:
            downstream[u].append(n)
    level = {n: 0 for n in nodes}
    queue = deque(n for n in nodes if pending[n] == 0)
    while queue:
        node = queue.popleft()
        for child in downstream[node]:
            level[child] = max(level[child], level[node] + 1)
            pending[child] -= 1
            if pending[child] == 0:
                queue.append(child)
    if any(count for count in pending.values()):
        raise ValueError("graph has a cycle; validate the config first")
    return level


class TableGraph:
    """Dependencies between the tables of a validated config.

    >>> graph = TableGraph(load_config())                       # doctest: +SKIP
    >>> graph.stages(graph.select_by_tags(["daily"], "all"))    # doctest: +SKIP
    [['customers_cdc_bronze', 'orders_bronze'], ['customers_cdc_clean'], ...]
    """

    def __init__(self, config: ProjectConfig):
        self.config = config
        self.names: tuple[str, ...] = config.table_names
        self.upstream: dict[str, tuple[str, ...]] = {t.name: t.depends_on for t in config.tables}
        downstream: dict[str, list[str]] = {n: [] for n in self.names}
        for name, ups in self.upstream.items():
            for up in ups:
                downstream[up].append(name)
        self.downstream: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in downstream.items()}
        self._position = {n: i for i, n in enumerate(self.names)}
        self.levels: dict[str, int] = topological_levels(self.names, self.upstream)

    def in_config_order(self, names: Iterable[str]) -> list[str]:
        """`names` deduplicated and sorted as they appear in config.yml."""
        return sorted(set(names), key=self._position.__getitem__)

    def stages(self, names: Iterable[str] | None = None) -> list[list[str]]:
        """The selected tables grouped in execution stages.

        A table comes in a later stage than everything it depends on, directly or through
        unselected tables; tables in one stage can run in parallel. Within a stage, config order.
        """
        selected = self.in_config_order(self.names if names is None else names)
        by_level: dict[int, list[str]] = {}
        for name in selected:
            by_level.setdefault(self.levels[name], []).append(name)
        return [by_level[level] for level in sorted(by_level)]

    def execution_order(self, names: Iterable[str] | None = None) -> list[str]:
        """The selected tables flattened stage after stage: a valid topological order."""
        return [n for stage in self.stages(names) for n in stage]

    def select_by_tags(self, tags: Iterable[str], match: TagMatch = "all") -> list[str]:
        """Tables carrying all (`match="all"`, AND) or any (`"any"`, OR) of `tags`, in config order."""
        wanted = {t for t in tags if t}
        if not wanted:
            return []
        if match == "all":
            return [t.name for t in self.config.tables if wanted <= set(t.tags)]
        if match == "any":
            return [t.name for t in self.config.tables if wanted & set(t.tags)]
        raise ValueError(f"match must be 'all' or 'any', not {match!r}")

    def upstream_closure(self, names: Iterable[str]) -> list[str]:
        """`names` plus everything they depend on, transitively, in config order."""
        return self.in_config_order(self._closure(names, self.upstream))

    def downstream_closure(self, names: Iterable[str]) -> list[str]:
        """`names` plus everything depending on them, transitively, in config order."""
        return self.in_config_order(self._closure(names, self.downstream))

    @staticmethod
    def _closure(names: Iterable[str], edges: Mapping[str, Sequence[str]]) -> set[str]:
        seen = set(names)
        queue = deque(seen)
        while queue:
            for nxt in edges[queue.popleft()]:
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return seen

    def pipeline_edges(self) -> dict[str, list[str]]:
        """For each pipeline key, the other pipelines whose tables it reads."""
        edges: dict[str, set[str]] = {key: set() for key in self.config.pipelines}
        for table in self.config.tables:
            for up in table.depends_on:
                other = self.config.table(up).pipeline
                if other != table.pipeline:
                    edges[table.pipeline or ""].add(other or "")
        return {k: sorted(v) for k, v in edges.items()}

    def pipeline_order(self) -> list[str]:
        """Pipeline keys in dependency order (a pipeline after those it reads from)."""
        keys = list(self.config.pipelines)
        levels = topological_levels(keys, self.pipeline_edges())
        return sorted(keys, key=lambda k: (levels[k], keys.index(k)))

    def updates(self, names: Iterable[str]) -> list[tuple[str, list[str]]]:
        """The pipeline updates a selection makes: (pipeline key, its tables in config order),
        pipelines in dependency order, each pipeline once."""
        selected = set(names)
        plan = []
        for key in self.pipeline_order():
            tables = [t.name for t in self.config.tables_of(key) if t.name in selected]
            if tables:
                plan.append((key, tables))
        return plan
