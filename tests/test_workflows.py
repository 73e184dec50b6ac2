"""The GitHub workflows: zizmor (pinned in constraints.txt) finds nothing in them, offline."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ZIZMOR = Path(sys.executable).parent / "zizmor"


def test_zizmor_finds_nothing_in_the_workflows():
    result = subprocess.run([str(ZIZMOR), "--offline", "--no-progress", ".github/workflows/"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout, result.stdout


def test_zizmor_reports_an_unpinned_action_that_keeps_its_credentials(tmp_path):
    """The check can fail: the old workflow's shape (an action by tag, credentials kept) gives
    findings and a non-zero exit."""
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "docs.yml").write_text(
        "name: docs\non: [push]\npermissions:\n  contents: read\n  pages: write\n  id-token: write\n"
        "jobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n")
    result = subprocess.run([str(ZIZMOR), "--offline", "--no-progress", str(workflows)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "artipacked" in result.stdout and "unpinned-uses" in result.stdout, result.stdout


def test_the_workflow_validates_every_engine_with_every_django_version():
    """One validation job per engine × Django version, each uploading its own records; the build job
    downloads them all. The matrix names exactly what the runner validates."""
    import yaml

    from runbook.databases import ENGINES
    from runbook.django_versions import VERSIONS

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "docs.yml").read_text())
    validate = workflow["jobs"]["validate"]
    assert validate["strategy"]["matrix"] == {"engine": list(ENGINES), "django": list(VERSIONS)}
    steps = {step.get("name"): step for step in validate["steps"]}
    assert steps["Validate the runbooks"]["run"] == '.venv/bin/runbook validate --engine "$ENGINE" --django "$DJANGO"'
    upload = next(step for step in validate["steps"] if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["name"] == "records-${{ matrix.engine }}-django-${{ matrix.django }}"
    download = next(step for step in workflow["jobs"]["build"]["steps"]
                    if step.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"] == {"pattern": "records-*", "path": ".runbook/records", "merge-multiple": True}
