"""A workspace client from the credentials Databricks users already have, and errors that say
where those came from without ever showing them."""

from __future__ import annotations

import os
import re
import socket
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlparse

import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.errors import NotFound, PermissionDenied, Unauthenticated
from databricks.sdk.errors.base import DatabricksError

from etl_assets.engines.databricks.settings import DatabricksCredentials, DatabricksSettings
from etl_assets.errors import DatabricksApiError

T = TypeVar("T")
# What the SDK raises once its own retries of an unanswered request run out: the builtin
# TimeoutError (after connection errors, timeouts, 429 or 503), or a connection error itself.
UNREACHABLE = (TimeoutError, requests.exceptions.ConnectionError, requests.exceptions.Timeout)
_CREDENTIAL_VARS = ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET",
                    "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CONFIG_FILE")


def workspace_client(settings: DatabricksSettings, credentials: DatabricksCredentials | None = None) -> WorkspaceClient:
    """A client authenticated by `credentials` where given, else by the SDK's default chain
    (environment variables, then a ~/.databrickscfg profile).

    HTTP 429 and 503 are retried by the SDK for at most `settings.retry_timeout_seconds`; a
    host that cannot answer at all fails at once (`check_reachable`).
    """
    given = credentials or DatabricksCredentials()
    # A field left None is read by the SDK from the environment or the config profile.
    fields: dict[str, Any] = {"host": given.host or None, "token": given.token or None,
                              "client_id": given.client_id or None, "client_secret": given.client_secret or None,
                              "profile": given.profile or None}
    try:
        # Building a config fetches the host's metadata (/.well-known/databricks-config), retried for
        # the config's whole retry_timeout_seconds when nothing answers: learn the host on a short
        # budget first, and check that something answers there before the real config is built.
        probe = Config(retry_timeout_seconds=1, http_timeout_seconds=max(settings.connect_seconds, 1), **fields)
        if probe.host:
            check_reachable(probe.host, settings.connect_seconds, probe)
        config = Config(retry_timeout_seconds=int(settings.retry_timeout_seconds), **fields)
    except ValueError as exc:  # the SDK raises ValueError when no credentials are configured
        raise DatabricksApiError(
            f"no Databricks credentials: {_first_line(exc, given)}. Set DATABRICKS_HOST and DATABRICKS_TOKEN (or "
            "OAuth: DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET), or a profile in ~/.databrickscfg "
            "(DATABRICKS_CONFIG_PROFILE)"
        ) from None
    return WorkspaceClient(config=config)


def check_reachable(host: str, seconds: float, config: Config | None = None) -> None:
    """Fail in seconds, saying what to check, when nothing at `host` can answer: the name does
    not resolve, the connection is refused, or it is not accepted within `seconds`.

    The SDK retries connection errors as it retries throttling, for its whole
    `retry_timeout_seconds`: right for a workspace that is briefly away, wrong for a mistyped
    host. Only the first connection is checked here; later ones are retried (the workspace
    answered once). Behind an HTTP proxy the proxy makes the connection, so nothing is checked.
    """
    url = urlparse(host if "://" in host else f"https://{host}")
    name = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    if not name or _proxied(url.scheme, name):
        return
    source = f" (credentials: {credential_source(config)})" if config is not None else ""
    check = "Check DATABRICKS_HOST or the profile's host: it should be your workspace URL, https://<workspace>"
    try:
        socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DatabricksApiError(f"the Databricks host {host}{source} does not resolve ({exc.strerror}); "
                                 f"nothing was started. {check}, and the network's DNS") from None
    try:
        with socket.create_connection((name, port), timeout=seconds):
            pass
    except ConnectionRefusedError:
        raise DatabricksApiError(f"nothing answers at {host}{source}: connection refused on port {port}; nothing "
                                 f"was started. {check}") from None
    except TimeoutError:
        raise DatabricksApiError(f"no connection to {host}{source} within {seconds:g} s; nothing was started. "
                                 f"{check}, and any VPN, firewall or proxy (HTTPS_PROXY) on the way") from None
    except OSError as exc:
        raise DatabricksApiError(f"cannot connect to {host}{source}: {exc.strerror or exc}; nothing was started. "
                                 f"{check}") from None


def _proxied(scheme: str, name: str) -> bool:
    return bool(urllib.request.getproxies().get(scheme)) and not urllib.request.proxy_bypass(name)


def credential_source(config: Config) -> str:
    """Where the credentials came from: auth type, profile or variable names (never values)."""
    parts = [f"auth type '{config.auth_type}'"] if config.auth_type else []
    if config.profile:
        parts.append(f"profile '{config.profile}' in {config.config_file or '~/.databrickscfg'}")
    names = [n for n in _CREDENTIAL_VARS if os.environ.get(n)]
    if names:
        parts.append(f"environment ({', '.join(names)})")
    return ", ".join(parts) or "the SDK's defaults"


# Credentials as they appear in text: an Authorization header a server echoes back, personal
# access tokens (dapi...) and OAuth secrets (dose...), whatever the client holds or not.
_CREDENTIAL_PATTERNS = [
    re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    re.compile(r"\bdapi[A-Za-z0-9-]{8,}"),
    re.compile(r"\bdose[A-Za-z0-9-]{8,}"),
]
_SECRET_FIELDS = ("token", "client_secret", "password", "azure_client_secret", "google_credentials")


def redact(text: str, *holders: object) -> str:
    """`text` without any credential: the secret values `holders` (SDK configs, credentials)
    carry, and anything shaped like a token or an Authorization header."""
    for holder in holders:
        for name in _SECRET_FIELDS:
            value = getattr(holder, name, None)
            if isinstance(value, str) and len(value) >= 4:
                text = text.replace(value, "***")
    for pattern in _CREDENTIAL_PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)} ***" if m.lastindex else "***", text)
    return text


def unreachable_message(config: Config, what: str, exc: BaseException) -> str:
    """One line for a workspace that did not answer: host, credential source, never a secret."""
    return (f"no answer from Databricks at {config.host} (credentials: {credential_source(config)}) while {what}: "
            f"{type(exc).__name__}: {_first_line(exc, config)}")


@contextmanager
def api_errors(config: Config, what: str, *, unreachable: bool = True) -> Iterator[None]:
    """Turn SDK errors into one clear line: refused credentials name their source, 404 names `what`.

    A workspace that did not answer (see `UNREACHABLE`) becomes a `DatabricksApiError` too,
    unless `unreachable` is False: then the caller waits and tries again itself.
    """
    try:
        yield
    except UNREACHABLE as exc:
        if not unreachable:
            raise
        raise DatabricksApiError(f"{unreachable_message(config, what, exc)}. Check the network and the host, "
                                 "or raise retry_timeout_seconds on the Databricks engine resource") from None
    except (Unauthenticated, PermissionDenied) as exc:
        raise DatabricksApiError(
            f"Databricks at {config.host} refused the credentials ({credential_source(config)}) while {what}: "
            f"{_first_line(exc, config)}. Check the token or profile, and that it may manage this pipeline."
        ) from None
    except NotFound as exc:
        raise DatabricksApiError(f"not found while {what}: {_first_line(exc, config)}") from None
    except DatabricksError as exc:
        raise DatabricksApiError(
            f"Databricks API error while {what}: {type(exc).__name__}: {_first_line(exc, config)}") from None


def call(config: Config, what: str, fn: Callable[[], T]) -> T:
    """`fn()`, with SDK errors turned into one `DatabricksApiError` line saying what was being done."""
    with api_errors(config, what):
        return fn()


def _first_line(exc: BaseException, *holders: object) -> str:
    # The SDK appends its config (with the token masked) after the message; keep the message,
    # without whatever credential a server echoed into it.
    text = str(exc).split(". Config:")[0].strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return redact(text, *holders)
