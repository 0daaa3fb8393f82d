"""The CI/CD files users get are valid YAML and call the project's own commands."""

from __future__ import annotations

import yaml

from tests.conftest import REPO


def test_github_workflow_stages_and_triggers():
    workflow = yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert set(triggers) == {"pull_request", "push"} and triggers["push"]["tags"] == ["v*"]
    jobs = workflow["jobs"]
    steps = [s.get("run", "") for s in jobs["test"]["steps"]]
    assert "bash bin/test" in steps and ".venv/bin/etl-assets validate" in steps
    assert any("ruff check" in s for s in steps)
    assert "refs/heads/main" in jobs["deploy-dev"]["if"] and "databricks bundle deploy -t dev" in str(jobs["deploy-dev"])
    assert "refs/tags/v" in jobs["deploy-prod"]["if"] and "databricks bundle deploy -t prod" in str(jobs["deploy-prod"])


def test_gitlab_pipeline_has_the_seed_stages():
    pipeline = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())
    assert pipeline["stages"] == ["build", "test", "deploy", "run"]
    assert "python -m build --wheel" in pipeline["build"]["script"]
    assert "bash bin/test" in pipeline["test"]["script"]
    assert any("bundle deploy" in s for s in pipeline["deploy"]["script"])
    assert pipeline["run"]["script"] == ['databricks bundle run etl_assets_job -t "$BUNDLE_TARGET"']


def test_readme_commands_are_the_ones_ci_runs():
    readme = (REPO / "README.md").read_text()
    assert "bash bin/test" in readme and "bash bin/demo" in readme
    assert (REPO / ".ci/run").read_text().strip().endswith("exec bash bin/test")
