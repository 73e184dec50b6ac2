"""Fixtures shared by the suite: database engines, fresh project copies and a way to run manage.py.

A test for PostgreSQL or MariaDB needs its server. Locally an unreachable server skips the test
with a message saying how to enable it; in CI (CI=true) it fails, so a missing server never
passes silently.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from runbook import databases
from runbook.errors import BadInput
from runbook.executor import copy_sample_project

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
HOW_TO_ENABLE = {
    "postgresql": "start PostgreSQL on localhost:5432 or set RUNBOOK_POSTGRES_URL",
    "mariadb": "start MariaDB on localhost:3306 or set RUNBOOK_MARIADB_URL",
}


def group_gone(pgid: int, seconds: float = 10) -> bool:
    """No live process (zombies aside, which init reaps in its own time) is left in group ``pgid``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                alive.append(stat.parent.name)
        if not alive:
            return True
        time.sleep(0.2)
    return False


def require_server(engine: str, *, skip_outside_ci: bool = True) -> None:
    """An unreachable server fails the test in CI (and wherever ``skip_outside_ci`` is False), else skips it."""
    if engine == "sqlite":
        return
    try:
        databases.Database(databases.SERVER_URLS[engine]).check_reachable()
    except BadInput as exc:
        message = f"{exc} ({HOW_TO_ENABLE[engine]})"
        if IN_CI or not skip_outside_ci:
            pytest.fail(f"CI needs every engine: {message}" if IN_CI else f"this test needs {engine}: {message}")
        pytest.skip(message)


@pytest.fixture(params=databases.ENGINES)
def engine(request) -> str:
    require_server(request.param)
    return request.param


@dataclass
class Result:
    returncode: int
    output: str


@dataclass
class Project:
    """A fresh copy of the sample project with its own empty database."""

    path: Path
    database_url: str

    def manage(self, *args: str) -> Result:
        return self.run(sys.executable, "manage.py", *args)

    def run(self, *argv: str) -> Result:
        env = {**os.environ, "DATABASE_URL": self.database_url, "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.run(
            argv, cwd=self.path, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
        )
        return Result(proc.returncode, proc.stdout)

    def edit(self, relative: str, old: str, new: str) -> None:
        file = self.path / relative
        text = file.read_text()
        assert text.count(old) == 1, f"{relative}: text to replace not found exactly once"
        file.write_text(text.replace(old, new))


@pytest.fixture
def project(engine, tmp_path) -> Project:
    with databases.scratch_database(engine, tmp_path, "test") as db:
        yield Project(copy_sample_project(tmp_path / "project"), db.url)


@pytest.fixture(autouse=True, scope="session")
def repository_unchanged():
    """The suite never changes the repository's files (git status stays as it was)."""
    if "MUTANT_UNDER_TEST" in os.environ:
        # mutmut runs the tests in its copy, mutants/, whose git status is that of the work tree
        # around it, which a person may be editing meanwhile: a change there is no test's doing.
        yield
        return
    before = _git_status()
    yield
    assert _git_status() == before, "the test suite changed files in the repository"


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO,
        capture_output=True, text=True, check=True,
    ).stdout


# What the sample project needs, pinned by constraints.txt; no `runbook`, no Jupyter.
READER_PACKAGES = ["django", "finflo", "djangorestframework", "dj-database-url", "psycopg[binary]", "PyMySQL"]


@pytest.fixture(scope="session")
def reader_venv(tmp_path_factory) -> Path:
    """A virtualenv with the sample project's locked dependencies and without this repository's package."""
    venv = tmp_path_factory.mktemp("reader-venv") / "venv"
    subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True, capture_output=True)
    install = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-c", str(REPO / "constraints.txt"), *READER_PACKAGES], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    probe = subprocess.run([str(venv / "bin/python"), "-c", "import runbook"], capture_output=True, text=True)
    assert probe.returncode == 1 and "No module named 'runbook'" in probe.stderr, "the reader's venv has runbook"
    return venv


def make_plain_django(root: Path) -> Path:
    """`django-admin startproject mysite` in ``root`` plus an app `polls` with one model, its migration
    made and applied on the project's SQLite file (no finflo, nothing of the sample project)."""
    subprocess.run([str(Path(sys.executable).parent / "django-admin"), "startproject", "mysite"], cwd=root, check=True)
    site = root / "mysite"
    subprocess.run([sys.executable, "manage.py", "startapp", "polls"], cwd=site, check=True)
    (site / "polls/models.py").write_text(
        "from django.db import models\n\n\nclass Question(models.Model):\n    text = models.CharField(max_length=200)\n")
    settings = site / "mysite/settings.py"
    settings.write_text(settings.read_text().replace("INSTALLED_APPS = [", "INSTALLED_APPS = [\n    'polls',"))
    for args in (["makemigrations", "polls"], ["migrate", "-v", "0"]):
        subprocess.run([sys.executable, "manage.py", *args], cwd=site, check=True, capture_output=True,
                       env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return site
