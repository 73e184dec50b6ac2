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
