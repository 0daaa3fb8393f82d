"""Notebook output functions for pipeline code on the local engine: `display` and `displayHTML`.

A Databricks notebook has `display(...)` and `displayHTML(...)` as globals; pipeline notebooks
keep calls to them (a slide shown in a `%python` cell, a `display(df)` left from development).
A pipeline update has no cell output to show them in, so here they accept their arguments and
do nothing: they read no data (a `display(df)` does not run the query) and change no dataset.
"""

from __future__ import annotations

from typing import Any

NAMES = ("display", "displayHTML")


def display(*args: Any, **kwargs: Any) -> None:
    """Databricks' `display(...)`: nothing to show in a pipeline update; does nothing."""
    return None


def displayHTML(*args: Any, **kwargs: Any) -> None:  # noqa: N802 (Databricks' name)
    """Databricks' `displayHTML(html)`: nothing to show in a pipeline update; does nothing."""
    return None


def functions() -> dict[str, Any]:
    """The notebook output functions by their Databricks names."""
    return {"display": display, "displayHTML": displayHTML}
