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


DRY_RUN = "etl-assets validate --dry-run --engine databricks --bundle-summary bundle-summary.json"


def github_steps(job: str) -> list[str]:
    workflow = yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text())
    return [s.get("run", "") for s in workflow["jobs"][job]["steps"]]


def test_every_deploy_dry_runs_the_deployed_pipelines_before_anything_runs():
    for job, target in (("deploy-dev", "dev"), ("deploy-prod", "prod")):
        steps = github_steps(job)
        deploy = steps.index(f"databricks bundle deploy -t {target}")
        (dry,) = [i for i, s in enumerate(steps) if DRY_RUN in s]
        assert deploy < dry
        lines = steps[dry].splitlines()
        summary = f"databricks bundle summary -t {target} --output json > bundle-summary.json"
        assert lines.index(summary) < lines.index(DRY_RUN)
    script = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())["deploy"]["script"]
    deploy = script.index('databricks bundle deploy -t "$BUNDLE_TARGET"')
    summary = script.index('databricks bundle summary -t "$BUNDLE_TARGET" --output json > bundle-summary.json')
    assert deploy < summary < script.index(DRY_RUN)  # and the run stage comes after the deploy stage


def test_the_dry_run_ci_runs_finds_dev_mode_pipelines_by_their_deployed_ids(fake, monkeypatch, tmp_path, capsys):
    """Development mode deploys `[dev <user>] <name>`: the summary's ids find them, not the names."""
    import json
    import shlex

    from etl_assets.cli import main
    from tests.support.fake_databricks import FAST, analysis

    for name, value in FAST.items():
        monkeypatch.setenv(f"ETL_ASSETS_DATABRICKS_{name.upper()}", str(value))
    config_path = REPO / "config.yml"
    monkeypatch.setenv("ETL_ASSETS_CONFIG", str(config_path))
    from etl_assets.project.load import load_config

    config = load_config(config_path)
    deployed = {key: fake.add_pipeline(f"[dev alice] {p.name}", f"dev-{key}-id", script=analysis({}))
                for key, p in config.pipelines.items()}
    summary = {"bundle": {"name": "etl_assets", "target": "dev", "mode": "development"},
               "resources": {"pipelines": {key: {"id": pid, "name": f"[dev alice] {config.pipelines[key].name}",
                                                 "url": f"{fake.url}/pipelines/{pid}"} for key, pid in deployed.items()}}}
    (tmp_path / "bundle-summary.json").write_text(json.dumps(summary))
    monkeypatch.chdir(tmp_path)
    (command,) = [line for step in github_steps("deploy-dev") for line in step.splitlines() if line.startswith(DRY_RUN)]
    argv = shlex.split(command)
    assert argv[0] == "etl-assets"
    assert main(argv[1:]) == 0, capsys.readouterr().err
    started = {path.split("/")[4] for _, path, _, _ in fake.calls("POST", "/updates")}
    assert started == set(deployed.values())
    assert all(body["validate_only"] is True for _, _, _, body in fake.calls("POST", "/updates"))
    out = capsys.readouterr().out
    assert all(f"pipeline '{p.name}' (databricks dry run): analysis OK" in out for p in config.pipelines.values())
    # A summary of a target not deployed yet says so.
    summary["resources"]["pipelines"] = {}
    (tmp_path / "bundle-summary.json").write_text(json.dumps(summary))
    assert main(argv[1:]) == 1
    assert "is missing in the summary of target 'dev'" in capsys.readouterr().err
    # Deployed pipelines are Databricks ones.
    assert main(["validate", "--dry-run", "--bundle-summary", "bundle-summary.json"]) == 1
    assert "hint: add --engine databricks" in capsys.readouterr().err
