"""`runbook doctor` on projects in each broken state, on SQLite, PostgreSQL and MariaDB.

Each state is made in a fresh copy of the sample project by a few explicit commands (the way a
team gets there), then doctor must report that finding with its page, and change nothing: every
file of the project and every table (rows and values, `python -m runbook.fingerprint`) is the same
before and after each call. The healthy sample reports nothing (exit 0); a Django project without
finflo gets the generic checks; bad input is one line, exit 2.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import markdown.extensions.toc
import pytest

from runbook import databases, notebooks
from runbook.doctor import checks, pages

from .conftest import REPO, Project, make_plain_django

RUNBOOK = str(Path(sys.executable).parent / "runbook")
MIGRATION_MODULES = 'MIGRATION_MODULES = {"finflo": "finflo_migrations"}\n'


class Doctor:
    """Runs `runbook doctor --json` on a project and proves each call changed nothing."""

    def __init__(self, project: Project, env: dict[str, str] | None = None):
        self.project, self.env = project, env
        url = databases.Database(project.database_url)
        if url.engine == "sqlite":  # an empty database is an empty file (doctor refuses to create one)
            Path(url.name).touch()

    def __call__(self, *extra: str, expect: int = 1) -> dict:
        before = self.state()
        result = subprocess.run([RUNBOOK, "doctor", "--project", str(self.project.path), "--database-url",
                                 self.project.database_url, "--json", *extra],
                                capture_output=True, text=True, timeout=600, env=self.env)
        assert self.state() == before, "doctor changed the project's files or the database"
        assert result.returncode == expect, result.stdout + result.stderr
        return json.loads(result.stdout)

    def state(self) -> tuple[dict, str]:
        files = {str(p.relative_to(self.project.path)): hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in sorted(self.project.path.rglob("*")) if p.is_file() and ".git" not in p.parts}
        # From a scratch folder: Django set up in the project's folder would leave finflo.log there.
        with tempfile.TemporaryDirectory() as scratch:
            tables = subprocess.run(
                [sys.executable, "-c", "import json, sys; from pathlib import Path; from runbook import fingerprint, "
                 f"verify; verify._setup_django(Path({str(self.project.path)!r})); print(json.dumps("
                 "fingerprint.fingerprints(), sort_keys=True))"],
                cwd=scratch, capture_output=True, text=True, timeout=600,
                env={**os.environ, "DATABASE_URL": self.project.database_url, "PYTHONDONTWRITEBYTECODE": "1"})
        assert tables.returncode == 0, tables.stderr
        return files, tables.stdout


def kinds(report: dict) -> dict[str, dict]:
    return {f["kind"]: f for f in report["findings"]}


def _manage(project: Project, *args: str) -> str:
    result = project.manage(*args)
    assert result.returncode == 0, result.output
    return result.output


def _sql(project: Project, statement: str) -> None:
    _manage(project, "shell", "-c", f"from django.db import connection; connection.cursor().execute({statement!r})")


# -- a migrated project, broken one way after another --------------------------------------------------

def test_each_data_finding_on_a_migrated_project(project):
    doctor = Doctor(project)
    _manage(project, "migrate", "-v", "0")
    _manage(project, "seed_demo_data", "--invoices", "5")
    healthy = doctor(expect=0)
    assert healthy["healthy"] and healthy["findings"] == [] and healthy["not_checked"] == []
    assert healthy["finflo"] is True
    assert healthy["proven_on"] == ["4.2", "5.2"] and healthy["django"].startswith("5.2.")

    # A row of a migration whose file is gone (a deleted migration, applied long ago).
    _sql(project, "INSERT INTO django_migrations (app, name, applied) VALUES ('accounts', '0009_deleted', '2026-01-01')")
    found = kinds(doctor())
    assert found["stale-rows"]["evidence"] == ["rows without a file: accounts.0009_deleted"]
    assert found["stale-rows"]["page"] == "how-to/circular-dependency.md#if-they-were-never-committed"
    assert "migrate --prune" in found["stale-rows"]["fix"]
    _sql(project, "DELETE FROM django_migrations WHERE name = '0009_deleted'")

    # A model field with no migration.
    project.edit("transaction/models.py", "class Invoice(models.Model):\n",
                 "class Invoice(models.Model):\n    note = models.CharField(max_length=20, default='')\n")
    found = kinds(doctor())
    assert found["model-changes"]["evidence"] == ["makemigrations transaction would write: Add field note to invoice"]
    assert found["model-changes"]["page"] == "how-to/new-work-model.md#register-the-model"
    project.edit("transaction/models.py", "    note = models.CharField(max_length=20, default='')\n", "")

    # finflo's seeded RETURN action deleted, and one invoice's workflow.
    _manage(project, "shell", "-c", "from finflo.models import Action, TransitionManager; "
            "Action.objects.filter(description='RETURN').delete(); "
            "TransitionManager.objects.filter(type='transaction.invoice').order_by('t_id').first().delete()")
    found = kinds(doctor())
    assert found["finflo-seeded-rows"]["evidence"] == ["Action has no RETURN action"]
    assert found["finflo-seeded-rows"]["page"] == "how-to/reset-database.md#reset-the-database"
    assert found["rows-without-workflows"]["what"] == "1 row of the work model transaction.Invoice without a workflow"
    assert found["rows-without-workflows"]["page"] == "how-to/new-work-model.md#register-the-model"
    assert found["rows-without-workflows"]["plan"] == (
        f"runbook plan new-work-model --project {project.path} --database-url {project.database_url}"
        "  # and your -p latest_migration=…, -p migration_number=…, -p registered=…, -p work_app=…, "
        "-p work_model=… (runbook plan says what each is)")

    # The work model's Flowmodel row deleted.
    _manage(project, "shell", "-c", "from finflo.models import Flowmodel; "
            "Flowmodel.objects.filter(description='transaction.invoice').delete()")
    found = kinds(doctor())
    assert found["work-model-without-flowmodel"]["what"] == (
        "FINFLO['WORK_MODEL'] names transaction.Invoice, which has no Flowmodel row")

    # The record of a migration others depend on deleted: accounts.0002 is applied, its dependency is not.
    _sql(project, "DELETE FROM django_migrations WHERE app = 'transaction' AND name = '0001_initial'")
    found = kinds(doctor())
    assert "Migration accounts.0002_links_to_finflo_and_transaction is applied before its dependency " \
           "transaction.0001_initial" in found["inconsistent-history"]["evidence"][0]
    assert found["unapplied"]["evidence"] == ["migrate would apply: transaction.0001_initial"]
    assert found["unapplied"]["page"] == "how-to/backup-and-restore.md#the-procedure"


def test_irreversible_operations_on_the_way_to_a_target(project):
    doctor = Doctor(project)
    _manage(project, "migrate", "-v", "0")
    assert doctor("--target", "accounts:0001_initial", expect=0)["findings"] == []  # 0002 undoes cleanly
    found = kinds(doctor("--target", "finflo:zero"))
    assert list(found) == ["irreversible"]
    assert "finflo.0002_remigrate: RunPython update_flow_model (no reverse_code)" in found["irreversible"]["evidence"][0]
    assert found["irreversible"]["page"] == "explanation/rollback-migrations.md#the-plan-says-irreversible"
    assert " -p app=finflo -p target=zero  # and your -p field_line=…, -p migration=…, -p models_file=…" in found["irreversible"]["plan"]


def test_unapplied_migrations_on_an_empty_database(project):
    report = Doctor(project)()
    found = kinds(report)
    assert found["unapplied"]["what"].endswith(" migrations not applied to this database")
    assert "accounts.0001_initial" in found["unapplied"]["evidence"][0]
    assert [n for n in report["not_checked"] if n.startswith("finflo's rows: ")]  # no finflo table yet


# -- the migration graph broken ------------------------------------------------------------------------

def test_a_cycle_made_by_regenerating_the_migrations(project):
    for app in ("accounts", "transaction"):
        shutil.rmtree(project.path / app / "migrations")
    _manage(project, "makemigrations", "accounts")  # the seed team's step: one app, its dependencies follow
    report = Doctor(project)()
    found = kinds(report)
    assert "accounts.0001_initial" in found["cycle"]["evidence"][0]
    assert found["cycle"]["evidence"][0].startswith("Django: CircularDependencyError: ")
    # git knows the committed migrations that were deleted and changed: they can be restored.
    assert found["cycle"]["page"] == "how-to/circular-dependency.md#if-the-deleted-migrations-were-committed"
    assert found["cycle"]["plan"] == (f"runbook plan circular-dependency --project {project.path} --database-url "
                                      f"{project.database_url} --procedure committed")  # the sample's app names
    assert report["not_checked"][0].endswith(": the migration graph does not load")
    # Once the regenerated files are committed, git has nothing to restore them from.
    _manage_git(project, "add", "-A")
    _manage_git(project, "commit", "-qm", "regenerated")
    found = kinds(Doctor(project)())
    assert found["cycle"]["page"] == "how-to/circular-dependency.md#if-they-were-never-committed"
    assert found["cycle"]["plan"].endswith(f" --database-url {project.database_url} --procedure never-committed")


def _manage_git(project: Project, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args], cwd=project.path, check=True)


def test_finflo_without_migration_modules(project):
    project.edit("config/settings.py", MIGRATION_MODULES, "")
    found = kinds(Doctor(project)())
    assert found["finflo-migration-modules"]["page"] == "how-to/circular-dependency.md#if-they-were-never-committed"
    # finflo's own folder has no 0003: the project's accounts.0002 needs the one in finflo_migrations.
    missing = found["missing-dependency"]
    assert missing["what"] == ("accounts.0002_links_to_finflo_and_transaction depends on "
                               "finflo.0003_alter_action_stage_required, which no migrations folder has")


def test_conflicting_leaves(project):
    for name in ("0002_mine", "0002_theirs"):
        (project.path / f"transaction/migrations/{name}.py").write_text(
            "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
            "    dependencies = [('transaction', '0001_initial')]\n    operations = []\n")
    found = kinds(Doctor(project)())
    assert found["conflicting-leaves"]["evidence"][0].startswith("transaction: 0002_mine, 0002_theirs")
    assert found["conflicting-leaves"]["page"] == "how-to/circular-dependency.md#when-finflo-ships-a-new-migration"
    assert found["conflicting-leaves"]["plan"].startswith("runbook plan circular-dependency ")
    assert found["conflicting-leaves"]["plan"].endswith(" --procedure never-committed")


def test_a_migration_written_into_the_installed_package(project, tmp_path):
    """finflo as installed (its files and RECORD), plus a 0004 makemigrations wrote into it on one machine."""
    site = tmp_path / "site"
    dist = metadata.distribution("finflo")
    shutil.copytree(Path(dist.locate_file("finflo")), site / "finflo", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(Path(dist._path), site / Path(dist._path).name)
    (site / "finflo/migrations/0004_local.py").write_text(
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
        "    dependencies = [('finflo', '0002_remigrate')]\n    operations = []\n")
    (project.path / "accounts/migrations/0003_needs_local.py").write_text(
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
        "    dependencies = [('accounts', '0002_links_to_finflo_and_transaction'), ('finflo', '0004_local')]\n"
        "    operations = []\n")
    env = {**_env(), "PYTHONPATH": str(site)}
    found = kinds(Doctor(project, env)())
    missing = found["missing-dependency-in-package"]
    assert missing["what"] == ("accounts.0003_needs_local depends on finflo.0004_local, which exists only inside "
                               "the installed package finflo")
    assert f"{site}/finflo/migrations/0004_local.py" in missing["evidence"][1]
    assert missing["page"] == "how-to/circular-dependency.md#if-they-were-never-committed"
    unshipped = found["unshipped-package-migrations"]
    assert unshipped["evidence"] == [f"not in finflo 2.0.44's RECORD: {site}/finflo/migrations/0004_local.py"]


def _env() -> dict[str, str]:
    return dict(os.environ)


# -- other projects, bad input -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def plain_django(tmp_path_factory) -> Path:
    """`django-admin startproject` plus one app with a migration, migrated on its SQLite file."""
    return make_plain_django(tmp_path_factory.mktemp("plain"))


def test_a_project_without_finflo_gets_the_generic_checks(plain_django):
    project = Project(plain_django, f"sqlite:///{plain_django / 'db.sqlite3'}")
    doctor = Doctor(project)
    healthy = doctor(expect=0)
    assert healthy["finflo"] is False and healthy["findings"] == []
    with (plain_django / "polls/models.py").open("a") as models:
        models.write("\n\nclass Choice(models.Model):\n    text = models.CharField(max_length=200)\n")
    try:
        found = kinds(doctor())
        assert list(found) == ["model-changes"] and "Create model Choice" in found["model-changes"]["evidence"][0]
    finally:
        text = (plain_django / "polls/models.py").read_text()
        (plain_django / "polls/models.py").write_text(text[:text.index("\n\nclass Choice")] + "\n")
    text = subprocess.run([RUNBOOK, "doctor", "--project", str(plain_django)], capture_output=True, text=True,
                          timeout=600, env={**_env(), "DATABASE_URL": ""})
    assert text.returncode == 0, text.stdout + text.stderr
    assert "finflo not installed: its checks are left out" in text.stdout
    assert re.search(r"\(Django 5\.2\.\d+: the pages are proven on 4\.2 and 5\.2\)", text.stdout), text.stdout


@pytest.mark.parametrize("args, message", [
    (["--project", "/nonexistent"], "error: not a Django project (no manage.py): /nonexistent"),
    (["--target", "accounts"], "error: --target 'accounts': write APP:MIGRATION, e.g. accounts:0001_initial"),
    (["--target", "nosuchapp:0001"], "error: --target nosuchapp:0001: the project has no app 'nosuchapp' with migrations"),
    (["--target", "accounts:0042"], "error: --target accounts:0042: accounts has no migration '0042'"),
    (["--database-url", "sqlite:///missing.sqlite3"], "error: no SQLite database at {project}/missing.sqlite3"),
    (["--database-url", "oracle://x/y"], "error: unsupported database URL scheme 'oracle'"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(tmp_path, args, message):
    from runbook.executor import copy_sample_project

    path = copy_sample_project(tmp_path / "project")
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    project = Project(path, url)
    _manage(project, "migrate", "-v", "0")
    before = Doctor(project).state()
    options = {"--project": str(path), "--database-url": url, **dict(zip(args[::2], args[1::2]))}
    argv = [word for pair in options.items() for word in pair]
    result = subprocess.run([RUNBOOK, "doctor", *argv], capture_output=True, text=True, timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(message.format(project=path)) and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""
    assert Doctor(project).state() == before
    assert not (path / "missing.sqlite3").exists()


# -- the table from findings to pages ------------------------------------------------------------------

def test_every_kind_the_checks_report_has_a_page():
    """The first argument of every report.add(...) in checks.py, a string or a choice of strings."""
    reported = set()
    for node in ast.walk(ast.parse(Path(checks.__file__).read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "report":
            kind = node.args[0]
            choices = [kind.body, kind.orelse] if isinstance(kind, ast.IfExp) else [kind]
            assert all(isinstance(c, ast.Constant) for c in choices), ast.unparse(kind)
            reported |= {c.value for c in choices}
    assert reported == set(pages.FIXES)


@pytest.mark.parametrize("kind", sorted(pages.FIXES))
def test_each_fix_names_a_page_with_a_runbook_and_a_section_of_it(kind):
    fix = pages.FIXES[kind]
    assert notebooks.find(fix.slug)
    page = (REPO / "docs" / fix.folder / f"{fix.slug}.md").read_text()
    anchors = {markdown.extensions.toc.slugify(h, "-") for h in re.findall(r"^#{2,6} (.+)$", page, re.M)}
    assert fix.section in anchors, f"{kind}: docs/{fix.folder}/{fix.slug}.md has no heading #{fix.section}"
