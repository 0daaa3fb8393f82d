"""SQL text as tokens and statements, with the line each starts on: the lexing under the pipeline
SQL translation and the static facts of SQL sources (no Spark, no Dagster).

The lexer keeps every character (whitespace and comments are tokens too), so a statement can be
rebuilt exactly, or with a few tokens replaced, and every token knows its line in the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from etl_assets.errors import EtlAssetsError


class SourceError(EtlAssetsError, ValueError):
    """A transformation source cannot be turned into pipeline code; names the file, line and construct."""

    def __init__(self, path: str, line: int | None, message: str):
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<string>'(?:[^'\\]|\\.|'')*(?:'|\Z)|"(?:[^"\\]|\\.|"")*(?:"|\Z))
    | (?P<quoted>`(?:[^`]|``)*(?:`|\Z))
    | (?P<param>\$\{[^}\n]*\})
    | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?[A-Za-z]*|\.\d+)
    | (?P<arrow>=>)
    | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    """One lexical unit: `kind` is ws, comment, string, quoted, param, word, number, arrow or punct."""

    kind: str
    text: str
    line: int

    @property
    def significant(self) -> bool:
        """Not whitespace nor a comment."""
        return self.kind not in ("ws", "comment")

    def is_word(self, *words: str) -> bool:
        """An unquoted word equal (case-insensitively) to one of `words`."""
        return self.kind == "word" and self.text.upper() in words

    @property
    def identifier(self) -> str:
        """The name a word or back-quoted token stands for."""
        if self.kind == "quoted":
            return self.text[1:-1].replace("``", "`")
        return self.text


def tokenize(text: str, first_line: int = 1) -> list[Token]:
    """Every token of `text` (nothing dropped), each with its line counted from `first_line`."""
    tokens = []
    line = first_line
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "punct"
        tokens.append(Token(kind, match.group(), line))
        line += match.group().count("\n")
    return tokens


def text_of(tokens: list[Token]) -> str:
    """The exact text of a run of tokens."""
    return "".join(t.text for t in tokens)


def string_value(token: Token) -> str:
    """The value of a SQL string literal token (quotes removed, escapes resolved)."""
    body = token.text[1:-1]
    quote = token.text[0]
    body = body.replace(quote * 2, quote)
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), body)


@dataclass
class Statement:
    """One SQL statement: its tokens (leading whitespace and comments removed) and first line."""

    tokens: list[Token]
    line: int
    significant: list[Token] = field(init=False)

    def __post_init__(self) -> None:
        self.significant = [t for t in self.tokens if t.significant]

    @property
    def text(self) -> str:
        """The statement's text as written."""
        return text_of(self.tokens)


_CELL_SEPARATOR = re.compile(r"^-- COMMAND -{5,}\s*$")


def split_statements(text: str, path: str, first_line: int = 1) -> list[Statement]:
    """The statements of SQL text, split at `;` outside strings, comments and parentheses, and at
    notebook cell separators (a line `-- COMMAND ----------`), which end a statement on Databricks
    whether or not the file starts with the notebook header.

    A missing final `;` is fine; an unterminated string or comment is an error naming its line.

    >>> [s.line for s in split_statements("SET a = 1;\\nSELECT ';' AS x", "f.sql")]
    [1, 2]
    """
    statements: list[Statement] = []
    current: list[Token] = []
    depth = 0
    previous: Token | None = None
    for token in tokenize(text, first_line):
        _check_terminated(token, path)
        at_line_start = previous is None or previous.text.endswith("\n")
        previous = token
        if (token.kind == "punct" and token.text == ";" and depth == 0) or _is_cell_separator(token, at_line_start):
            _flush(current, statements)
            current = []
            depth = 0
            continue
        if token.kind == "punct" and token.text in "([":
            depth += 1
        elif token.kind == "punct" and token.text in ")]":
            depth = max(0, depth - 1)
        current.append(token)
    _flush(current, statements)
    return statements


def _is_cell_separator(token: Token, at_line_start: bool) -> bool:
    return token.kind == "comment" and at_line_start and bool(_CELL_SEPARATOR.match(token.text))


def _check_terminated(token: Token, path: str) -> None:
    if token.kind == "string" and (len(token.text) < 2 or token.text[-1] != token.text[0]
                                   or _ends_escaped(token.text)):
        raise SourceError(path, token.line, "unterminated string literal: close it with "
                          f"{token.text[0]}")
    if token.kind == "comment" and token.text.startswith("/*") and not token.text.endswith("*/"):
        raise SourceError(path, token.line, "unterminated /* comment: close it with */")
    if token.kind == "quoted" and (len(token.text) < 2 or not token.text.endswith("`")):
        raise SourceError(path, token.line, "unterminated `quoted name`: close it with `")


def _ends_escaped(text: str) -> bool:
    backslashes = len(text[1:-1]) - len(text[1:-1].rstrip("\\"))
    return backslashes % 2 == 1


def _flush(tokens: list[Token], statements: list[Statement]) -> None:
    start = 0
    while start < len(tokens) and not tokens[start].significant:
        start += 1
    kept = tokens[start:]
    while kept and not kept[-1].significant:
        kept.pop()
    if kept:
        statements.append(Statement(kept, kept[0].line))


def index_of(tokens: list[Token], token: Token) -> int:
    """The position of this very token (by identity) in `tokens`."""
    for index, candidate in enumerate(tokens):
        if candidate is token:
            return index
    raise ValueError("token not in statement")


def next_significant(tokens: list[Token], index: int) -> int | None:
    """The position of the first token after `index` that is not whitespace nor a comment."""
    for j in range(index + 1, len(tokens)):
        if tokens[j].significant:
            return j
    return None


def closing(tokens: list[Token], open_index: int) -> int | None:
    """The position of the `)` closing the `(` at `open_index`, or None."""
    depth = 0
    for j in range(open_index, len(tokens)):
        if tokens[j].kind == "punct" and tokens[j].text == "(":
            depth += 1
        elif tokens[j].kind == "punct" and tokens[j].text == ")":
            depth -= 1
            if depth == 0:
                return j
    return None


def qualified_name(tokens: list[Token], index: int) -> tuple[int, list[str]]:
    """The parts of the qualified name starting at `index` (`LIVE.` dropped) and the index after it."""
    parts = [tokens[index].identifier]
    end = index + 1
    while True:
        dot = next_significant(tokens, end - 1)
        if dot is None or tokens[dot].text != ".":
            break
        part = next_significant(tokens, dot)
        if part is None or tokens[part].kind not in ("word", "quoted"):
            break
        parts.append(tokens[part].identifier)
        end = part + 1
    if len(parts) > 1 and parts[0].upper() == "LIVE":
        parts = parts[1:]
    return end, parts


def quote_name(name: str) -> str:
    """`name` as SQL writes it: back-quoted unless it is a plain identifier."""
    if name.replace("_", "a").isalnum() and not name[0].isdigit():
        return name
    return "`" + name.replace("`", "``") + "`"


def split_commas(tokens: list[Token], keep_all: bool = False) -> list[list[Token]]:
    """Split at commas outside parentheses and type brackets (`STRUCT<a: INT, b: INT>`)."""
    items: list[list[Token]] = [[]]
    depth = 0
    angles = 0
    previous: Token | None = None
    for token in tokens:
        if token.kind == "punct":
            if token.text in "([":
                depth += 1
            elif token.text in ")]" and depth:
                depth -= 1
            elif token.text == "<" and previous is not None and previous.is_word("STRUCT", "ARRAY", "MAP"):
                angles += 1
            elif token.text == ">" and angles:
                angles -= 1
            elif token.text == "," and depth == 0 and angles == 0:
                items.append([])
                continue
        items[-1].append(token)
        if token.significant:
            previous = token
    return [item for item in items if keep_all or item]


def name_text(tokens: list[Token]) -> str:
    """Significant tokens as a name: back quotes removed."""
    return "".join(t.identifier if t.kind in ("word", "quoted") else t.text for t in tokens if t.significant)
