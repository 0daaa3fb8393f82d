"""The errors etl_assets raises on purpose. Each names the problem and what to do."""

from __future__ import annotations

from dataclasses import dataclass


class EtlAssetsError(Exception):
    """Base class: an error a user can act on, printed without a traceback by the CLI."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem found in a config file, with where it is and how to fix it."""

    file: str
    line: int | None
    message: str
    table: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        subject = f" table '{self.table}':" if self.table else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}:{subject} {self.message}{hint}"


class ConfigError(EtlAssetsError):
    """The config is invalid; carries every problem found, not only the first."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in config:\n{lines}")


class EngineUnavailableError(EtlAssetsError):
    """The selected engine cannot run here; nothing was refreshed."""
