"""Finding and loading config.yml: parse, check every rule, raise one `ConfigError` listing
every problem (file:line, table, hint). Invalid config means nothing runs."""

from __future__ import annotations

import os
from pathlib import Path

from etl_assets.errors import ConfigError, ConfigProblem
from etl_assets.project.config import ProjectConfig
from etl_assets.project.validation import parse_and_validate

CONFIG_ENV_VAR = "ETL_ASSETS_CONFIG"


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Locate config.yml: `explicit`, else ./config.yml.

    Falls back to the config.yml beside the package's source tree (an editable install run
    from elsewhere). Raises `ConfigError` naming the places looked in when none exists. The
    environment is not read here: the command line and the default code location pass
    $ETL_ASSETS_CONFIG as `explicit`.
    """
    candidates: list[Path]
    if explicit:
        candidates = [Path(explicit)]
    else:
        candidates = [Path.cwd() / "config.yml", Path(__file__).resolve().parents[2] / "config.yml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise ConfigError([
        ConfigProblem(
            file=str(candidates[0]), line=None,
            message=f"config file not found (looked in: {looked})",
            hint=f"run from the project folder, pass --config PATH, or set {CONFIG_ENV_VAR}",
        )
    ])


def load_config(path: str | os.PathLike[str] | None = None, *, check_files: bool = True) -> ProjectConfig:
    """Load and validate config.yml; raise `ConfigError` with every problem found.

    >>> cfg = load_config("config.yml")            # doctest: +SKIP
    >>> [t.name for t in cfg.tables][:2]            # doctest: +SKIP
    ['customers_cdc_bronze', 'customers_cdc_clean']
    """
    config_path = find_config_path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(str(config_path), None, f"not UTF-8 text (byte {exc.start}: {exc.reason})",
                                         hint="save the file as UTF-8")]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(config_path), None, f"cannot read config: {exc.strerror}")]) from exc
    return parse_and_validate(text, config_path, check_files=check_files)
