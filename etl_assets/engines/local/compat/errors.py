"""The error the compatibility layer raises for Databricks code it cannot run locally."""

from __future__ import annotations

from etl_assets.errors import EtlAssetsError


class UnsupportedConstructError(EtlAssetsError, ValueError):
    """A Databricks pipeline construct the local engine cannot run; the message says what to do."""
