"""The wheel works as a user gets it: built, installed in a new venv outside the checkout, run from anywhere.

The wheel is built from a copy of the checkout's files (git's tracked and untracked, not ignored
ones: what a clone has), so that a stale build/ folder cannot hide a file the package forgets. It
is installed with pip and the lock into a venv in a temporary folder, and every command runs from a
folder outside the checkout, with nothing of the checkout on the import path.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO

# Folders of the checkout the package carries (runbook._bundle), each file of them.
BUNDLED = ("runbooks", "sampleproject", "docs", "hooks", "overrides")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The venv the wheel is installed into; its `bin/runbook` is the user's command."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    for name in _checkout_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    env = {**_clean_env(), "PIP_CONSTRAINT": str(REPO / "constraints.txt")}  # the build backend's version too
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(root / "dist"), str(source)],
                           env=env, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (root / "build.log").write_text(built.stdout + built.stderr)
    (wheel,) = (root / "dist").glob("*.whl")
    venv.create(root / "venv", with_pip=True)
    pip = subprocess.run([str(root / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet",
                          "-c", str(REPO / "constraints.txt"), str(wheel)],
                         env=_clean_env(), capture_output=True, text=True, timeout=1200)
    assert pip.returncode == 0, pip.stderr[-3000:]
    return root


def test_the_wheel_carries_the_runbooks_the_sample_project_and_the_page_sources(installed):
    (wheel,) = (installed / "dist").glob("*.whl")
    inside = {n.removeprefix("runbook/_bundle/") for n in zipfile.ZipFile(wheel).namelist()
              if n.startswith("runbook/_bundle/")}
    wanted = {n for n in _checkout_files() if n.split("/")[0] in BUNDLED} | {"mkdocs.yml", "constraints.txt"}
    assert sorted(wanted - inside) == []
    assert not [n for n in inside if "__pycache__" in n or n.endswith((".sqlite3", ".log"))]
    code = {n.removeprefix("src/") for n in _checkout_files() if n.startswith("src/runbook/") and n.endswith(".py")}
    assert sorted(code - set(zipfile.ZipFile(wheel).namelist())) == []  # every subpackage listed in pyproject.toml


def test_the_wheel_builds_without_a_warning_from_setuptools(installed):
    # The bundle's folders are data: left to setuptools' own inclusion of package data, each one
    # was taken for an undeclared package and got a screenful of warning, in every install's output.
    # (Byte-compiling is off in the suite's environment, and setuptools says so: not a fault.)
    log = (installed / "build.log").read_text().splitlines()
    assert [line for line in log if "warn" in line.lower() and "byte-compiling is disabled" not in line] == []


def test_runbook_works_from_a_folder_outside_the_checkout(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _runbook(installed, elsewhere, "--version").stdout.strip() == "runbook 0.1.0"
    where = _run([str(installed / "venv" / "bin" / "python"), "-c",
                  "import runbook.paths as p; print(p.FROM_CHECKOUT, p.RUNBOOKS, p.RECORDS)"], elsewhere)
    from_checkout, runbooks, records = where.stdout.split()
    assert from_checkout == "False"
    assert Path(runbooks).is_relative_to(installed / "venv")
    assert Path(records) == Path.home() / ".runbook" / "records"  # never inside site-packages
    listed = _runbook(installed, elsewhere, "list").stdout
    assert [line.split()[0] for line in listed.splitlines()] == sorted(
        p.stem for p in (REPO / "runbooks").glob("*.ipynb"))


def test_plan_on_a_project_of_ones_own(installed, tmp_path):
    project, url = _own_project(installed, tmp_path)
    plan = _runbook(installed, tmp_path, "plan", "reset-database", "--project", str(project),
                    "--database-url", url)
    assert "  ✓ the project's settings use the database" in plan.stdout
    assert "        $ python manage.py migrate\n" in plan.stdout
    # Django of the installed venv, asked about the project's own database
    assert "Django's plan, on the database as it is now (`python manage.py migrate --plan`):" in plan.stdout
    assert "  │   No planned migration operations.\n" in plan.stdout
    assert plan.stdout.rstrip().endswith("All preconditions hold.")


def test_doctor_on_a_project_of_ones_own(installed, tmp_path):
    project, url = _own_project(installed, tmp_path)
    healthy = _runbook(installed, tmp_path, "doctor", "--project", str(project), "--database-url", url)
    assert healthy.stdout.splitlines()[1].startswith(f"  python: {installed / 'venv' / 'bin' / 'python'} (Django 5.2.")
    assert "✓ no findings: " in healthy.stdout
    (project / "transaction/migrations/0002_forgotten.py").write_text(
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
        "    dependencies = [('transaction', '0001_initial')]\n    operations = []\n")
    unapplied = _runbook(installed, tmp_path, "doctor", "--project", str(project), "--database-url", url, expect=1)
    assert "evidence: migrate would apply: transaction.0002_forgotten" in unapplied.stdout
    assert "fix:      how-to/backup-and-restore.md#the-procedure: " in unapplied.stdout


def _own_project(installed: Path, tmp_path: Path) -> tuple[Path, str]:
    """A copy of the sample project as its own git repository, migrated on a SQLite file."""
    project = tmp_path / "myproject"
    shutil.copytree(REPO / "sampleproject", project, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3", "*.log"))
    url = f"sqlite:///{tmp_path / 'myproject.sqlite3'}"
    env = {**_clean_env(), "DATABASE_URL": url, "PYTHONDONTWRITEBYTECODE": "1"}
    git = ["git", "-c", "user.name=me", "-c", "user.email=me@localhost"]
    for argv in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], [*git, "commit", "-q", "-m", "my project"],
                 [str(installed / "venv" / "bin" / "python"), "manage.py", "migrate", "-v", "0"]):
        subprocess.run(argv, cwd=project, env=env, check=True, capture_output=True, timeout=300)
    return project, url


def _runbook(installed: Path, cwd: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess:
    result = _run([str(installed / "venv" / "bin" / "runbook"), *args], cwd)
    assert result.returncode == expect, result.stdout + result.stderr
    return result


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=600)


def _clean_env() -> dict[str, str]:
    """The environment without this checkout's venv or import path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DATABASE_URL")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not Path(p).resolve().is_relative_to(REPO))
    return env


def _checkout_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    return [name for name in listed if (REPO / name).is_file()]
