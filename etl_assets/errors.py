"""The errors etl_assets raises on purpose. Each names the problem and what to do.

Every one derives from `EtlAssetsError`, which the CLI prints as one `Error:` line (the
traceback only with ETL_ASSETS_DEBUG=1). `PipelineFailedError` is also a Dagster `Failure`,
so a failed update fails its step with the same message on every engine; it is created on
first use, so importing this module never imports Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any


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

    def __init__(self, problems: Sequence[ConfigProblem]):
        self.problems = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in config:\n{lines}")


class EngineUnavailableError(EtlAssetsError):
    """The selected engine cannot run here (missing software, unsupported mode); nothing ran."""


class DatabricksApiError(EtlAssetsError):
    """The Databricks API refused or failed a request; the message names the host and where the
    credentials came from, never the credentials."""


class DataError(EtlAssetsError):
    """Stored data cannot be read or written as asked (no table yet, bad landing files)."""


def pipeline_failure_message(pipeline: str, status: str, detail: str, *, failed: Sequence[str],
                             skipped: Sequence[str], not_refreshed: Sequence[str], refreshed: Sequence[str],
                             error_text: str = "") -> str:
    """The one wording of a failed update, whatever the engine."""
    what = f"{detail} {status}" if detail else status
    text = (
        f"pipeline '{pipeline}' failed ({what}); failed: {', '.join(failed) or 'none reported'}; "
        f"skipped for an upstream failure: {', '.join(skipped) or 'none'}; "
        f"not refreshed: {', '.join(not_refreshed) or 'none'}; refreshed: {', '.join(refreshed) or 'none'}"
    )
    return f"{text}\n{error_text}" if error_text else text


_lazy: dict[str, type] = {}


def _pipeline_failed_error() -> type:
    from dagster import Failure

    class PipelineFailedError(Failure, EtlAssetsError):
        """A pipeline update failed: some tables failed or were not refreshed.

        A Dagster `Failure`, so the step fails with this description and metadata (failed,
        skipped, refreshed tables) on every engine.
        """

        def __init__(self, description: str, metadata: Mapping[str, Any] | None = None):
            super().__init__(description=description, metadata=dict(metadata or {}))

    PipelineFailedError.__module__ = __name__
    PipelineFailedError.__qualname__ = "PipelineFailedError"
    return PipelineFailedError


if TYPE_CHECKING:
    from dagster import Failure

    class PipelineFailedError(Failure, EtlAssetsError):
        """A pipeline update failed: some tables failed or were not refreshed (a Dagster `Failure`)."""

        def __init__(self, description: str, metadata: Mapping[str, Any] | None = None): ...


def __getattr__(name: str) -> type:
    if name == "PipelineFailedError":
        if name not in _lazy:
            _lazy[name] = _pipeline_failed_error()
        return _lazy[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
