"""YAML loading: a fast parse for valid files, and one that remembers lines for error messages.

Both read YAML 1.2 scalars (only true/false are booleans; `yes`, `on`, `no` stay strings), so
what the validator sees does not depend on which parser ran.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml
import yaml_rs

if TYPE_CHECKING:
    # The C loader has the same Python-level constructor API; the stubs describe the pure one.
    _BaseLoader = yaml.SafeLoader
else:
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict[Any, Any]):
    """A dict from YAML that knows its own line and the line of each key (1-based)."""

    line: int
    key_lines: dict[str, int]
    duplicate_keys: list[tuple[str, int]]


class LineList(list[Any]):
    """A list from YAML that knows its own line and the line of each item (1-based)."""

    line: int
    item_lines: list[int]


class _LineLoader(_BaseLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:
        """A `LineDict`, recording duplicate keys instead of keeping only the last."""
        self.flatten_mapping(node)
        mapping = LineDict()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        mapping.duplicate_keys = []
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    "found an unhashable key", key_node.start_mark,
                )
            key_line = key_node.start_mark.line + 1
            if key in mapping:
                mapping.duplicate_keys.append((str(key), key_line))
            mapping[key] = self.construct_object(value_node, deep=True)
            mapping.key_lines[str(key)] = key_line
        return mapping

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:
        """A `LineList` with the line of each item."""
        items = LineList(self.construct_object(child, deep=True) for child in node.value)
        items.line = node.start_mark.line + 1
        items.item_lines = [child.start_mark.line + 1 for child in node.value]
        return items


# YAML 1.2 core booleans, as yaml_rs reads them (PyYAML would also take yes/no/on/off).
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_sequence)


def load_yaml_with_lines(text: str) -> Any:
    """Parse YAML text; mappings become `LineDict`, sequences `LineList`.

    Raises `yaml.YAMLError` on bad syntax (with `problem_mark` for the position).

    >>> doc = load_yaml_with_lines("a:\\n  - 1\\n")
    >>> doc.key_lines["a"], doc["a"].item_lines
    (1, [2])
    """
    return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass


def load_yaml_fast(text: str) -> Any:
    """Parse YAML text into plain dicts and lists (no lines), about 10x faster than PyYAML.

    Raises `ValueError` (yaml_rs' decode error) on bad syntax or a duplicate key; callers
    then parse again with `load_yaml_with_lines` to say where.
    """
    return yaml_rs.loads(text, parse_datetime=False)


def line_of(value: Any, default: int | None = None) -> int | None:
    """The line where a loaded mapping or sequence starts, else `default`."""
    return getattr(value, "line", default)


def key_line(mapping: Any, key: str, default: int | None = None) -> int | None:
    """The line of `key` in a loaded mapping, else the mapping's own line, else `default`."""
    lines: dict[str, int] | None = getattr(mapping, "key_lines", None)
    if lines and key in lines:
        return lines[key]
    return line_of(mapping, default)
