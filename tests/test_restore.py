"""The restore printed after an operator run still works once the rolled-back migration is gone.

An operator adds `Invoice.due_on` (its migration made, applied, values in it, committed), then
rolls `transaction` back to 0001 with `runbook run rollback-migrations`, whose procedure takes the
field out of the model and removes the migration file; the operator commits that. The backup the
runner took before the rollback holds the column's values. In the project as it is now,
`migrate && loaddata` fails; the printed commands, run as printed in a work tree of the commit the
backup was taken at, give back every value of every table.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from runbook import backup, databases, notebooks, restore
from runbook.executor import copy_sample_project

ROLLED_BACK = "transaction/migrations/0002_invoice_due_on.py"
RUNBOOK = str(Path(sys.executable).parent / "runbook")


@pytest.fixture
def own(engine, tmp_path):
    """A copy of the sample project as the operator's git repository, with data, and its database."""
    project = copy_sample_project(tmp_path / "myproject")
    if engine == "sqlite":
        yield project, f"sqlite:///{tmp_path / 'own.sqlite3'}"
        return
    with databases.scratch_database(engine, tmp_path, "restore") as db:
        yield project, db.url


def test_the_printed_restore_works_after_the_migration_is_removed(own, engine, tmp_path):
    project, url = own
    env = _env(url)
    _ok(project, env, sys.executable, "manage.py", "migrate", "-v", "0")
    _ok(project, env, sys.executable, "manage.py", "seed_demo_data", "--invoices", "40")
    _add_due_on(project, env)
    before = _fingerprint(project, env)
    commit = restore.head_commit(project)

    home = tmp_path / "home"
    home.mkdir()
    run = subprocess.run([RUNBOOK, "run", "rollback-migrations", "--project", str(project), "--database-url", url,
                          "--allow-destructive", "--yes", "-p", "app=transaction", "-p", "target=0001_initial",
                          "-p", "migration=0002_invoice_due_on", "-p", "models_file=transaction/models.py",
                          "-p", "field_line=due_on = models.DateField(null=True, blank=True)", "-q"],
                         env={**env, "HOME": str(home)}, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    # Without --backup-dir, the audit folder and the backup in it are under ~/.runbook/runs (as --help says).
    folder = Path(re.search(r"^database backup: (\S+); to restore it", out, re.M)[1])
    assert folder.parent.parent == home / ".runbook" / "runs" and all(f.is_file() for f in backup.files(folder))
    assert f"with the migrations of commit {commit[:12]}" in out
    printed = [line[2:] for line in out[out.index("database backup: "):].splitlines()[1:] if line.startswith("  ")]
    assert printed == restore.restore_lines(folder, project, commit, url)
    assert (folder / restore.FILE).read_text().splitlines()[1:] == [f"  {line}" for line in printed]

    # What the rollback was for: the procedure took the field and the migration out; the operator commits.
    assert not (project / ROLLED_BACK).exists()
    _ok(project, env, "git", "add", "-A")
    _ok(project, env, "git", "-c", "user.name=op", "-c", "user.email=op@localhost", "commit", "-qm", "drop due_on")

    # The old printed command, in the project as it is now, cannot load the rows of 0002's schema.
    _empty(url)
    plain = subprocess.run(["bash", "-c", backup.restore_command(folder)], cwd=project, env=env,
                           capture_output=True, text=True, timeout=600)
    assert plain.returncode != 0
    assert re.search(r"due_on", plain.stderr), plain.stderr[-2000:]

    # The printed lines, run as printed (a shell with the project's python first on PATH).
    _empty(url)
    for line in printed:
        done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"$ {line}\n{done.stdout}{done.stderr}"
    assert _fingerprint(project, env) == before
    assert len(subprocess.run(["git", "worktree", "list"], cwd=project, capture_output=True, text=True,
                              check=True).stdout.splitlines()) == 1  # the work tree is gone again


def _add_due_on(project: Path, env: dict[str, str]) -> None:
    """The change the rollback undoes, made with the runbook's own edit (its demo cell), applied, with values."""
    call = ast.parse(notebooks.find("rollback-migrations").cell("add-due-on").source).body[0].value
    edit = dict(zip(("path", "old", "new"), (ast.literal_eval(a) for a in call.args)))
    edit.update({k.arg: ast.literal_eval(k.value) for k in call.keywords})
    models = project / edit["path"]
    assert models.read_text().count(edit["old"]) == 1
    models.write_text(models.read_text().replace(edit["old"], edit["new"]))
    _ok(project, env, sys.executable, "manage.py", "makemigrations", "transaction", "-v", "0")
    _ok(project, env, sys.executable, "manage.py", "migrate", "-v", "0")
    _ok(project, env, sys.executable, "manage.py", "shell", "-v", "0", "-c",
        "from transaction.models import Invoice; Invoice.objects.filter(pk__in=list(Invoice.objects.order_by('pk')"
        ".values_list('pk', flat=True)[:10])).update(due_on='2026-02-28')")
    _ok(project, env, "git", "add", "-A")
    _ok(project, env, "git", "-c", "user.name=op", "-c", "user.email=op@localhost", "commit", "-qm", "due dates")


def _empty(url: str) -> None:
    db = databases.Database(url)
    if db.engine == "sqlite":
        Path(db.name).unlink(missing_ok=True)
        return
    server = db.with_name("postgres" if db.engine == "postgresql" else "")
    databases.drop_database(server, db.name)
    databases._execute(server, f"CREATE DATABASE {db.name}" + (" CHARACTER SET utf8mb4" if db.engine == "mariadb" else ""))


def _fingerprint(project: Path, env: dict[str, str]) -> dict:
    skip = [arg for table in sorted(backup.NOT_IN_BACKUP) for arg in ("--exclude", table)]
    return json.loads(_ok(project, env, sys.executable, "-m", "runbook.fingerprint", *skip))


def _ok(project: Path, env: dict[str, str], *argv: str) -> str:
    result = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _env(url: str) -> dict[str, str]:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "DATABASE_URL": url, "PYTHONDONTWRITEBYTECODE": "1"}
