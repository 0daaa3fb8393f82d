"""The demo project at the repository root, as `etl-assets validate` sees it: its config.yml,
transformations and databricks.yml agree."""

from __future__ import annotations

from etl_assets.cli import main
from tests.conftest import REPO


def test_validate_passes_on_the_example(capsys):
    assert main(["validate", "--config", str(REPO / "config.yml")]) == 0
    assert "OK: 8 tables in 2 pipeline(s), 3 schedule(s)" in capsys.readouterr().out
