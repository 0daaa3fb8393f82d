"""The wheel a pipeline installs: no Dagster, and the transformation helpers import."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, scenario

pytestmark = pytest.mark.slow


def test_wheel_without_extras_has_no_dagster_and_the_helpers_import(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
                   check=True, capture_output=True, text=True)
    (wheel,) = dist.glob("etl_assets-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Only the wheel: not the source tree (cwd, PYTHONPATH) the tests run from.
    alone = {"cwd": tmp_path, "env": {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}}
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True, capture_output=True,
                   **alone)
    probe = (
        "import importlib.util as u\n"
        "assert u.find_spec('dagster') is None, 'dagster is installed'\n"
        "assert u.find_spec('pyspark') is None, 'pyspark is installed'\n"
        "from etl_assets.ldp import Rule, auto_cdc, read_landing, table, materialized_view\n"
        "from etl_assets.project.load import load_config\n"
        "import etl_assets\n"
        "assert etl_assets.load_config is load_config and 'LocalPipelinesResource' in etl_assets.__all__\n"
        "print('helpers ok')\n"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, **alone)
    assert result.returncode == 0, result.stderr
    assert "helpers ok" in result.stdout
    cli = subprocess.run([str(venv / "bin" / "etl-assets"), "validate", "--config", str(scenario("shop"))],
                         capture_output=True, text=True, **alone)
    assert cli.returncode == 0, cli.stderr
    assert "Dagster is not installed" in cli.stderr
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                            **alone).stdout
    assert "dagster" not in listed.lower()
