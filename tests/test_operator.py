"""Operator mode on projects like a reader's: only the proven procedure runs, nothing lost or planted.

The operator's project is its own git repository: a copy of the sample project with its own data
(1,000+ rows), an extra committed migration, an untracked file and a local edit. Every runbook runs
against it with `runbook run NAME --project P` on every engine, and afterwards:

- the record shows every demo cell skipped and every procedure and check cell run;
- a per-table diff of the database (row counts and ordered-row hashes) shows only the changes the
  procedure documents, and no user appears that was not there;
- the extra migration, the untracked file and the local edit are intact;
- no file appeared outside the project and the backup folder.

A Django project without finflo is refused by every runbook before anything runs (exit 2, one line
naming what it lacks), its files and database byte-identical.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from runbook import databases, notebooks, restore
from runbook.executor import RunOptions, copy_sample_project
from runbook.operator_mode import _MIGRATES, operator_commands, run_on_project
from runbook.projectfiles import snapshot

from .conftest import REPO, make_plain_django

RUNBOOK = [str(Path(sys.executable).parent / "runbook")]
# The sample's names, given as an operator gives their own (tests/test_other_names.py gives others).
NEW_WORK_MODEL = ["-p", "latest_migration=0001_initial", "-p", "migration_number=0002", "-p", "registered=transaction.Invoice",
                  "-p", "work_app=transaction", "-p", "work_model=Payment"]
ARGS = {
    # Its page has two procedures; the plan and refusal tests take the one that makes migrations again.
    "circular-dependency": ["--procedure", "never-committed", "--allow-destructive", "--yes"],
    "reset-database": ["--allow-destructive", "--yes"],
    "rollback-migrations": ["--allow-destructive", "--yes", "-p", "app=transaction", "-p", "target=0001_initial",
                            "-p", "migration=0002_invoice_due_on", "-p", "models_file=transaction/models.py",
                            "-p", "field_line=due_on = models.DateField(null=True, blank=True)"],
    "new-work-model": NEW_WORK_MODEL,
    "backup-and-restore": [],  # its procedure only reads the operator's database
}
EXTRA_MIGRATION = "accounts/migrations/0003_operator_note.py"
UNTRACKED = "accounts/wip_notes.py"
LOCAL_EDIT = "\n# operator's local edit: keep me\n"
# Rows finflo's migrations seed, and what `migrate` itself fills.
SEEDED_BY_MIGRATE = {"finflo_signlist", "finflo_states", "finflo_action", "finflo_flowmodel",
                     "django_content_type", "auth_permission", "django_migrations"}


def _chosen(slug: str) -> notebooks.Runbook:
    """The runbook as ARGS runs it: with the procedure its --procedure chooses, if it has alternatives."""
    args = ARGS[slug]
    return notebooks.find(slug).with_procedure(args[args.index("--procedure") + 1] if "--procedure" in args else None)


class Operator:
    """The operator's project, database and surroundings."""

    def __init__(self, root: Path, database_url: str):
        self.root = root
        self.path = root / "myproject"
        self.database_url = database_url
        self.backups = root / "backups"

    def env(self) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": self.database_url, "PYTHONDONTWRITEBYTECODE": "1"}

    def manage(self, *args: str) -> str:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=self.path, env=self.env(),
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def fingerprint(self, *options: str) -> dict[str, dict]:
        out = subprocess.run([sys.executable, "-m", "runbook.fingerprint", *options], cwd=self.path, env=self.env(),
                             capture_output=True, text=True, timeout=600, check=True).stdout
        return json.loads(out)

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True, check=True).stdout

    def runbook(self, *args: str, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
        home = self.root.parent / "home"  # the runner's own state (IPython profile) stays out of root
        home.mkdir(exist_ok=True)
        return subprocess.run([*RUNBOOK, *args], cwd=REPO, stdin=stdin, capture_output=True, text=True, timeout=900,
                              env={**os.environ, "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"})

    def surroundings(self) -> dict[str, str]:
        """Every file under root outside the project, the backup folder and the database."""
        files = {}
        for path in self.root.rglob("*"):
            if path.is_file() and self.path not in path.parents and self.backups not in path.parents \
                    and not path.name.startswith("own.sqlite3"):
                files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        return files


@contextlib.contextmanager
def own_database(engine: str, root: Path, tmp_path: Path, label: str):
    """The URL of the operator's database on ``engine``: a file in ``root`` on SQLite, else a scratch
    database dropped afterwards."""
    if engine == "sqlite":
        yield f"sqlite:///{root / 'own.sqlite3'}"
        return
    with databases.scratch_database(engine, tmp_path, label) as db:
        yield db.url


@pytest.fixture
def operator(engine, tmp_path):
    root = tmp_path / "work"
    root.mkdir()
    with own_database(engine, root, tmp_path, "operator") as url:
        yield _operator(root, url)


def _operator(root: Path, url: str) -> Operator:
    op = Operator(root, url)
    copy_sample_project(op.path)
    (op.path / EXTRA_MIGRATION).write_text(
        "from django.db import migrations\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [('accounts', '0002_links_to_finflo_and_transaction')]\n"
        "    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]\n")
    op.git("add", "-A")
    op.git("-c", "user.name=op", "-c", "user.email=op@localhost", "commit", "-qm", "the operator's own migration")
    op.manage("migrate", "-v", "0")
    op.manage("seed_demo_data", "--invoices", "250")
    return op


def _recent_change(op: Operator) -> None:
    """The change the rollback runbook undoes, made as the operator would: the runbook's own edit of the
    model (its demo cell), the migration made and applied, values in the new column, committed."""
    import ast
    call = ast.parse(notebooks.find("rollback-migrations").cell("add-due-on").source).body[0].value
    edit = dict(zip(("path", "old", "new"), (ast.literal_eval(a) for a in call.args)))
    edit.update({k.arg: ast.literal_eval(k.value) for k in call.keywords})
    models, old, new = op.path / edit["path"], edit["old"], edit["new"]
    assert models.read_text().count(old) == 1
    models.write_text(models.read_text().replace(old, new))
    op.manage("makemigrations", "transaction", "-v", "0")
    op.manage("migrate", "-v", "0")
    op.manage("shell", "-v", "0", "-c", "from transaction.models import Invoice; pks = list(Invoice.objects.order_by('pk')"
              ".values_list('pk', flat=True)[:100]); Invoice.objects.filter(pk__in=pks).update(due_on='2026-02-28')")
    op.git("add", "-A")
    op.git("-c", "user.name=op", "-c", "user.email=op@localhost", "commit", "-qm", "invoices have a due date")


def _dirty(op: Operator) -> None:
    (op.path / UNTRACKED).write_text("# notes a colleague has not committed yet\n")
    with (op.path / "config/settings.py").open("a") as settings:
        settings.write(LOCAL_EDIT)


@pytest.mark.parametrize("slug", [s for s in ARGS if s != "circular-dependency"])  # needs a broken project: below
def test_an_operator_run_does_only_the_procedure_and_loses_nothing(operator, slug, engine):
    op = operator
    if slug == "rollback-migrations":
        _recent_change(op)
    rows = op.fingerprint()
    assert sum(t["rows"] for t in rows.values()) > 1000
    _dirty(op)
    files, db, around = snapshot(op.path), op.fingerprint(), op.surroundings()
    base = [slug, "--project", str(op.path), "--database-url", op.database_url, "--backup-dir", str(op.backups),
            *ARGS[slug]]

    refused = op.runbook("run", *base)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr == (f"error: runbook {slug!r} refuses a project with uncommitted or untracked changes "
                              f"(config/settings.py, {UNTRACKED}); commit or stash them, or pass --allow-dirty to "
                              "have the files the runbook may change copied first; nothing was changed\n")
    assert snapshot(op.path) == files and op.fingerprint() == db and op.surroundings() == around
    assert not op.backups.exists()

    result = op.runbook("run", *base, "--allow-dirty", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1].removeprefix("audit folder: "))
    assert run_dir.parent == op.backups and (run_dir / "plan.txt").is_file() and (run_dir / f"{slug}.ipynb").is_file()

    record = json.loads((run_dir / "record.json").read_text())
    assert (record["mode"], record["preload"]) == ("processes", None), "an operator's commands were preloaded"
    outcomes = {c["id"]: c["outcome"] for c in record["cells"]}
    for cell in notebooks.find(slug).cells:
        if cell.is_parameters:
            continue
        if cell.role == "demo":
            assert outcomes[cell.id] == "skipped", f"demo cell {cell.id!r} ran on the operator's project"
        elif cell.runs_on(engine) and "clean-tree" not in cell.needs:
            assert outcomes[cell.id] in ("passed", "expected-failure"), (cell.id, outcomes[cell.id])

    # Files: the operator's work is intact; only what the runbook declares changed.
    assert (op.path / UNTRACKED).read_text() == "# notes a colleague has not committed yet\n"
    assert LOCAL_EDIT in (op.path / "config/settings.py").read_text()
    assert (op.path / EXTRA_MIGRATION).is_file() and "the operator's own migration" in op.git("log", "--format=%s")
    changed = {p for p in set(files) | set(snapshot(op.path)) if files.get(p) != snapshot(op.path).get(p)}
    assert changed == DOCUMENTED_FILES.get(slug, set())
    assert op.surroundings() == around, "a file appeared or changed outside the project and the backup folder"

    after = op.fingerprint()
    DOCUMENTED_ROWS[slug](db, after)
    if slug != "reset-database":  # no user, row or value appears that was not there, at full precision
        assert after["accounts_user"] == db["accounts_user"], "the users of the operator's database changed"
    if slug == "backup-and-restore":
        # The backups are proven in a scratch database: the operator's own is only read, every
        # table (content types and permissions too) as it was, at full precision.
        assert after == db


def _same_except(before: dict, after: dict, allowed: set[str]) -> None:
    differing = {t for t in set(before) | set(after) if before.get(t) != after.get(t)}
    assert differing <= allowed, f"tables changed that the procedure does not document: {sorted(differing - allowed)}"


def _reset(before, after):
    assert set(after) == set(before)
    kept = {t: v["rows"] for t, v in after.items() if v["rows"] and t not in SEEDED_BY_MIGRATE}
    assert kept == {}, f"a reset database still has rows: {kept}"
    for table in ("finflo_signlist", "finflo_states", "finflo_action", "finflo_flowmodel"):
        assert after[table]["rows"] > 0, f"migrate did not seed {table}"


def _rollback(before, after):
    assert set(before) == set(after)
    _same_except(before, after, {"transaction_invoice", "django_migrations"})  # due_on dropped; one migration unapplied
    counts = lambda fp: {t: v["rows"] for t, v in fp.items() if t != "django_migrations"}  # noqa: E731
    assert counts(after) == counts(before)
    assert after["django_migrations"]["rows"] == before["django_migrations"]["rows"] - 1


def _new_work_model(before, after):
    # The Flowmodel row, the SUBMIT action and its Submitted state, and a workflow (manager, item,
    # event) for each existing payment: the data migration.
    workflow_tables = {"finflo_transitionmanager", "finflo_workflowitems", "finflo_workevents"}
    registration = {"finflo_flowmodel", "finflo_states", "finflo_action"}
    _same_except(before, after, {*registration, "django_migrations", *workflow_tables})
    for table in registration:
        assert after[table]["rows"] == before[table]["rows"] + 1, table
    payments = after["transaction_payment"]["rows"]
    for table in workflow_tables:
        assert after[table]["rows"] == before[table]["rows"] + payments, table


def _backup_and_restore(before, after):
    # Nothing written: the values are compared at full precision in the test.
    assert {t: v["rows"] for t, v in after.items()} == {t: v["rows"] for t, v in before.items()}


DOCUMENTED_ROWS = {
    "reset-database": _reset, "rollback-migrations": _rollback,
    "new-work-model": _new_work_model, "backup-and-restore": _backup_and_restore,
}
DOCUMENTED_FILES = {
    "new-work-model": {"config/settings.py", "transaction/migrations/0002_register_payment_work_model.py"},
    "rollback-migrations": {"transaction/models.py", "transaction/migrations/0002_invoice_due_on.py"},
}


@pytest.mark.parametrize("slug", list(ARGS))
def test_plan_lists_the_procedure_and_no_demo_cell(tmp_path, slug):
    op = _operator(tmp_path, f"sqlite:///{tmp_path / 'own.sqlite3'}")
    if slug == "circular-dependency":  # the state its never-committed procedure (ARGS) is for
        _never_committed(op)
    if slug == "rollback-migrations":
        _recent_change(op)
    files, db = snapshot(op.path), op.fingerprint()
    params = [a for a in ARGS[slug] if a not in ("--allow-destructive", "--yes")]
    result = op.runbook("plan", slug, "--project", str(op.path), "--database-url", op.database_url, *params)
    assert result.returncode == 0, result.stdout + result.stderr
    runbook = _chosen(slug)
    steps = [line.split()[1] for line in result.stdout.splitlines() if line[:6].strip().rstrip(".").isdigit()]
    assert steps == [c.id for c in runbook.operator_cells
                     if not c.is_parameters and c.runs_on("sqlite") and c.runs_with("5.2")]  # the runner's Django
    assert f"  Django: {version('django')} here; the procedure is proven on Django 4.2 and 5.2\n" in result.stdout
    assert not any(c.role == "demo" for c in runbook.cells if c.id in steps)
    for cell in runbook.operator_cells:
        if cell.destructive and cell.runs_on("sqlite"):
            assert f"{cell.id}  [procedure; DELETES DATA" in result.stdout
        elif not cell.runs_on("sqlite"):  # another engine's tab: not a step here
            assert f" {cell.id}  [" not in result.stdout
    assert result.stdout.rstrip().endswith("All preconditions hold.")
    assert "\n  commands: each a real process (never preloaded: " in result.stdout
    if "backup_dir" in runbook.defaults:  # not the sample's '..': files go where the run will put them
        assert "  backup_dir = \"the run's audit folder\"" in result.stdout
    if any(_MIGRATES.search(c) and "--settings" not in c
           for s in runbook.operator_cells for c in s.commands_with(runbook.defaults)):
        # on the project's own database (not a scratch one the procedure migrates with --settings first)
        django_plan = result.stdout.split("Django's plan, on the database as it is now (`", 1)[1]
        assert django_plan.startswith("python manage.py migrate") and "--settings" not in django_plan.split("`")[0]
        assert "ModuleNotFoundError" not in django_plan, django_plan  # a scratch settings module not written yet
    assert snapshot(op.path) == files and op.fingerprint() == db


@pytest.fixture(scope="module")
def plain_django(tmp_path_factory) -> Path:
    """`django-admin startproject` plus one app with a migration, committed to git, migrated."""
    site = make_plain_django(tmp_path_factory.mktemp("plain"))
    for args in (["init", "-q"], ["add", "manage.py", "mysite", "polls"],
                 ["-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "tutorial"]):
        subprocess.run(["git", *args], cwd=site, check=True)
    return site


@pytest.mark.parametrize("slug", list(ARGS))
def test_a_project_without_finflo_is_refused_and_left_byte_identical(plain_django, slug, tmp_path):
    site = plain_django
    url = f"sqlite:///{site / 'db.sqlite3'}"
    before = _checksums(site)
    op = Operator(tmp_path, url)
    run = op.runbook("run", slug, "--project", str(site), "--database-url", url, *ARGS[slug])
    assert run.returncode == 2, run.stdout + run.stderr
    runbook = _chosen(slug)  # the -p values of ARGS are the sample's, its defaults
    needed = runbook.needs_with(runbook.defaults)["apps"]
    apps = ", ".join(needed)
    none = "has none of them" if len(needed) > 1 else "does not have it"
    assert run.stderr.startswith(f"error: runbook {slug!r} needs the apps {apps}; this project {none}"), run.stderr
    assert run.stderr.count("\n") == 1 and run.stdout == ""
    plan = op.runbook("plan", slug, "--project", str(site), "--database-url", url,
                      *[a for a in ARGS[slug] if a not in ("--allow-destructive", "--yes")])
    assert plan.returncode == 2
    assert f"✗ needs the apps {apps}; this project {none}" in plan.stdout
    assert _checksums(site) == before


def test_declining_the_confirmation_changes_nothing(tmp_path):
    op = _operator(tmp_path, f"sqlite:///{tmp_path / 'own.sqlite3'}")
    files, db = snapshot(op.path), op.fingerprint()
    asked = []
    options = RunOptions(project=op.path, database_url=op.database_url, backup_dir=tmp_path / "backups")
    record, run_dir = run_on_project(notebooks.find("reset-database"), options, _Quiet(), allow_dirty=False, yes=False,
                                     ask=lambda prompt: asked.append(prompt) or "n", out=io.StringIO())
    assert asked and asked[0].startswith("Step 'reset-sqlite' deletes data in sqlite:///") and asked[0].endswith("[y/N] ")
    assert record.outcome == "failed"
    assert "cell 'reset-sqlite' (diff -q " in record.error and "on sqlite: the operator declined" in record.error
    assert snapshot(op.path) == files and op.fingerprint() == db


def test_without_a_terminal_or_yes_a_deleting_runbook_stops_before_anything(tmp_path):
    op = _operator(tmp_path, f"sqlite:///{tmp_path / 'own.sqlite3'}")
    files, db = snapshot(op.path), op.fingerprint()
    result = op.runbook("run", "reset-database", "--project", str(op.path), "--database-url", op.database_url,
                        "--allow-destructive", "--backup-dir", str(tmp_path / "backups"))
    assert result.returncode == 2
    assert result.stderr == ("error: runbook 'reset-database' deletes data at step 'reset-sqlite'; run it on a "
                             "terminal to confirm, or pass --yes; nothing was changed\n")
    assert snapshot(op.path) == files and op.fingerprint() == db and not (tmp_path / "backups").exists()


def test_a_required_parameter_without_a_value_is_bad_input(tmp_path):
    op = _operator(tmp_path, f"sqlite:///{tmp_path / 'own.sqlite3'}")
    result = op.runbook("run", "rollback-migrations", "--project", str(op.path), "--database-url", op.database_url,
                        "--allow-destructive", "--yes", "-p", "app=transaction", "-p", "migration=0002_invoice_due_on",
                        "-p", "models_file=transaction/models.py", "-p", "field_line=due_on = models.DateField(null=True, blank=True)")
    assert result.returncode == 2
    assert result.stderr.startswith("error: runbook 'rollback-migrations' needs -p target=… (the migration to go back to")


def test_a_program_the_procedure_runs_missing_from_path_is_refused(tmp_path):
    """The reset's SQLite step runs `rm`: on a machine without it, nothing starts."""
    op = _operator(tmp_path, f"sqlite:///{tmp_path / 'own.sqlite3'}")
    files, db = snapshot(op.path), op.fingerprint()
    bin_dir = tmp_path / "bin"  # every program of /usr/bin but rm
    bin_dir.mkdir()
    for program in Path("/usr/bin").iterdir():
        if program.name != "rm":
            (bin_dir / program.name).symlink_to(program)
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run([*RUNBOOK, "run", "reset-database", "--project", str(op.path), "--database-url",
                             op.database_url, "--allow-destructive", "--yes", "--backup-dir", str(tmp_path / "backups")],
                            cwd=REPO, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PATH": str(bin_dir), "HOME": str(home)})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "needs the programs cat, grep, touch, rm, diff; not on PATH: rm" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert snapshot(op.path) == files and op.fingerprint() == db and not (tmp_path / "backups").exists()


def test_a_project_outside_git_is_refused(tmp_path):
    project = copy_sample_project(tmp_path / "nogit")
    subprocess.run(["rm", "-rf", str(project / ".git")], check=True)
    op = Operator(tmp_path, f"sqlite:///{tmp_path / 'own.sqlite3'}")
    result = op.runbook("plan", "circular-dependency", "--project", str(project), "--database-url", op.database_url,
                        "--procedure", "committed")
    assert result.returncode == 2
    assert result.stderr == (f"error: {project} is not in a git work tree: commit your project to git first, so that "
                             "every file a runbook changes can be seen and put back\n")


def test_settings_that_ignore_the_database_url_are_refused(tmp_path):
    op = _operator(tmp_path, f"sqlite:///{tmp_path / 'own.sqlite3'}")
    settings = op.path / "config/settings.py"
    settings.write_text(settings.read_text() + "\nDATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', "
                                               "'NAME': '/elsewhere/prod.sqlite3'}}\n")
    op.git("-c", "user.name=op", "-c", "user.email=op@localhost", "commit", "-qam", "hard-coded database")
    result = op.runbook("run", "circular-dependency", "--project", str(op.path), "--database-url", op.database_url,
                        *ARGS["circular-dependency"])
    assert result.returncode == 2
    assert "would run on the database '/elsewhere/prod.sqlite3' that the project's settings name" in result.stderr


def _checksums(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class _Quiet:
    def run_started(self, *a): ...
    def cell_started(self, *a): ...
    def cell_output(self, *a): ...
    def cell_finished(self, *a): ...
    def run_finished(self, *a): ...
    def note(self, *a): ...


@pytest.mark.parametrize("slug", list(ARGS))
def test_every_page_shows_its_run_this_on_your_project_box(slug):
    assert f'{{{{ operator_box("{slug}") }}}}' in (REPO / "docs/how-to" / f"{slug}.md").read_text()


def test_the_box_commands_run_verbatim_in_the_operators_folder(tmp_path):
    op = _operator(tmp_path, f"sqlite:///{tmp_path / 'own.sqlite3'}")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DATABASE_URL": op.database_url, "HOME": str(tmp_path / "home")}
    plan_line, run_line = operator_commands(notebooks.find("reset-database"))
    assert run_line.endswith(" --allow-destructive")
    result = subprocess.run(["bash", "-c", run_line], cwd=op.path, env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 2 and "pass --yes; nothing was changed" in result.stderr
    for slug in ("new-work-model", "circular-dependency"):
        if slug == "circular-dependency":  # its procedure starts from the broken state, on an empty database
            op.git("add", "-A")
            op.git("-c", "user.name=op", "-c", "user.email=op@localhost", "commit", "-qm", "payments are work models")
            _never_committed(op)  # both procedures plan from it; the never-committed one needs its files
            env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        if slug == "new-work-model":
            lines = operator_commands(notebooks.find(slug))
            assert lines[1] == f'runbook run {slug} --project . --database-url "$DATABASE_URL" ' + " ".join(NEW_WORK_MODEL)
        else:  # one box line per procedure; each plans (a run of each: test_circular_dependency_* below)
            base = f'{slug} --project . --database-url "$DATABASE_URL" --procedure'
            committed = operator_commands(notebooks.find(slug).with_procedure("committed"))
            never = operator_commands(notebooks.find(slug).with_procedure("never-committed"))
            assert committed == [f"runbook plan {base} committed", f"runbook run {base} committed"]
            assert never == [f"runbook plan {base} never-committed", f"runbook run {base} never-committed --allow-destructive"]
            lines = [committed[0], never[0]]
        for line in lines:
            result = subprocess.run(["bash", "-c", line], cwd=op.path, env=env, stdin=subprocess.DEVNULL,
                                    capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, f"$ {line}\n{result.stdout}{result.stderr}"



def test_a_failed_run_names_undeclared_changes_and_how_to_put_everything_back(tmp_path):
    op = _operator(tmp_path, f"sqlite:///{tmp_path / 'own.sqlite3'}")
    # A colleague already committed a transaction migration 0002: the runbook's makemigrations
    # writes 0003_…, a file it does not declare, and its expectation (0002_…) fails.
    (op.path / "transaction/migrations/0002_colleague.py").write_text(
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
        "    dependencies = [('transaction', '0001_initial')]\n    operations = []\n")
    op.git("add", "-A")
    op.git("-c", "user.name=op", "-c", "user.email=op@localhost", "commit", "-qm", "colleague's migration")
    settings_before = (op.path / "config/settings.py").read_text()
    result = op.runbook("run", "new-work-model", "--project", str(op.path), "--database-url", op.database_url,
                        "--backup-dir", str(tmp_path / "backups"), *NEW_WORK_MODEL, "-q")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "✗ makemigrations-empty" in out and "output does not match" in out
    new_file = "transaction/migrations/0003_register_payment_work_model.py"
    assert f"the run changed project files it does not declare: added {new_file}" in out
    assert "files changed in the project: added " + new_file + ", changed config/settings.py" in out
    run_dir = Path(out.strip().splitlines()[-1].removeprefix("audit folder: "))
    copies = run_dir / "files"
    assert f"  files:    cp -a {copies}/config/settings.py {op.path}/config/settings.py" in out
    assert f"  files:    cd {op.path} && rm -- {new_file}" in out
    assert "  database: nothing was deleted before the failure (no backup was needed yet)" in out
    for line in out.splitlines():  # the printed commands do put the files back
        if line.startswith("  files:    "):
            subprocess.run(["bash", "-c", line.removeprefix("  files:    ")], check=True)
    assert (op.path / "config/settings.py").read_text() == settings_before
    assert op.git("status", "--porcelain") == ""


# The circular page has two procedures, one per situation; a run takes the one --procedure names.

def _never_committed(op: Operator, apps: tuple[str, str] = ("accounts", "transaction")) -> None:
    """A teammate's state (tests/test_reader_follows_pages.py's): the database applied the committed
    migrations; both apps' migrations deleted and made again in one call, committed, with neither
    MIGRATION_MODULES nor finflo_migrations/ (the regenerated files depend on finflo's 0003)."""
    for app in apps:
        shutil.rmtree(op.path / app / "migrations")
    op.manage("makemigrations", *apps)
    settings = op.path / "config/settings.py"
    text, found = re.subn(r"(?:^#[^\n]*\n)*^MIGRATION_MODULES = [^\n]*\n", "", settings.read_text(), flags=re.M)
    assert found == 1, "the sample's settings no longer set MIGRATION_MODULES"
    settings.write_text(text)
    shutil.rmtree(op.path / "finflo_migrations")
    op.git("add", "-A")
    op.git("-c", "user.name=op", "-c", "user.email=op@localhost", "commit", "-qm", "regenerated migrations")


def test_circular_dependency_never_committed_fixes_a_project_in_the_broken_state(engine, tmp_path):
    root = tmp_path / "work"
    root.mkdir()
    with own_database(engine, root, tmp_path, "operator") as url:
        op = Operator(root, url)
        copy_sample_project(op.path)
        op.manage("migrate", "-v", "0")
        op.manage("seed_demo_data", "--invoices", "20")
        _never_committed(op)
        files, around = snapshot(op.path), op.surroundings()
        before = {path: (op.path / path).read_text() for path in ("accounts/migrations/0002_initial.py",
                                                                  "transaction/migrations/0001_initial.py")}
        data = {t: v for t, v in op.fingerprint().items() if t != "django_migrations"}
        result = op.runbook("run", "circular-dependency", "--project", str(op.path), "--database-url", url,
                            "--backup-dir", str(op.backups), "--procedure", "never-committed", "--allow-destructive",
                            "--yes", "-q")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "  procedure: never-committed, if they were never committed (" in result.stdout
        assert "✓ symptom-never-committed" in result.stdout and "failed as expected (exit 1)" in result.stdout
        assert "✓ restore-migrations" not in result.stdout  # the other procedure's steps never run
        after = snapshot(op.path)
        # Made again by the procedure with the same operations: only the header's time may differ.
        remade = {"accounts/migrations/0002_initial.py", "transaction/migrations/0001_initial.py"}
        for path in remade:
            assert _without_header(op.path / path) == _without_header(before[path]), path
        changed = {p for p in set(files) | set(after) if files.get(p) != after.get(p)} - remade
        assert changed == {"config/settings.py", "accounts/migrations/0001_initial.py",
                           "accounts/migrations/0003_links_to_finflo.py", "finflo_migrations/__init__.py",
                           "finflo_migrations/0001_initial.py", "finflo_migrations/0002_remigrate.py",
                           "finflo_migrations/0003_alter_action_stage_required.py"}
        assert op.surroundings() == around
        op.manage("migrate", "--check")
        # The database's rows as they were (django_migrations aside: the fake and the prune), at full precision.
        assert {t: v for t, v in op.fingerprint().items() if t != "django_migrations"} == data
        assert data["accounts_user"]["rows"] > 0 and data["finflo_signlist"]["rows"] > 0
        # The backup before the prune was verified with the rewritten, uncommitted migrations: its restore
        # puts them over a work tree of the commit, whose own migrations do not load.
        folder = Path(re.search(r"^database backup: (\S+); to restore it", result.stdout, re.M)[1])
        lines = (folder / restore.FILE).read_text().splitlines()
        assert "the uncommitted changes copied to uncommitted/ beside the backup" in lines[0]
        assert lines[2].startswith(f"  cp -a {folder}/uncommitted/. ")
        assert (folder / "uncommitted/config/settings.py").read_text() == (op.path / "config/settings.py").read_text()


def _without_header(file: Path | str) -> str:
    text = file.read_text() if isinstance(file, Path) else file
    return re.sub(r"^# Generated by Django .*\n", "", text)


def test_circular_dependency_committed_restores_the_seeds_deleted_migrations(engine, tmp_path):
    """The seed's state: the committed migrations deleted and made again app by app (`makemigrations
    accounts`, then `makemigrations transaction`, which stops on the cycle), nothing committed; the
    operator also has an untracked file of their own, outside the migrations folders."""
    root = tmp_path / "work"
    root.mkdir()
    with own_database(engine, root, tmp_path, "operator") as url:
        op = Operator(root, url)
        copy_sample_project(op.path)
        (op.path / EXTRA_MIGRATION).write_text(
            "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
            "    dependencies = [('accounts', '0002_links_to_finflo_and_transaction')]\n    operations = []\n")
        op.git("add", "-A")
        op.git("-c", "user.name=op", "-c", "user.email=op@localhost", "commit", "-qm", "the operator's own migration")
        op.manage("migrate", "-v", "0")
        (op.path / UNTRACKED).write_text("# notes a colleague has not committed yet\n")
        committed, db = snapshot(op.path), op.fingerprint()
        for app in ("accounts", "transaction"):
            shutil.rmtree(op.path / app / "migrations")
        op.manage("makemigrations", "accounts")
        stopped = subprocess.run([sys.executable, "manage.py", "makemigrations", "transaction"], cwd=op.path,
                                 env=op.env(), capture_output=True, text=True, timeout=600)
        # Django names the cycle's nodes from a set: their order differs from run to run
        assert stopped.returncode == 1 and re.search(r"CircularDependencyError: (?=.*accounts\.0001_initial)",
                                                     stopped.stderr), stopped.stderr
        around = op.surroundings()
        base = ["circular-dependency", "--project", str(op.path), "--database-url", url, "--backup-dir", str(op.backups),
                "--procedure", "committed"]

        refused = op.runbook("run", *base, "-q")  # the operator's own untracked file is not the broken state
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert refused.stderr.startswith("error: runbook 'circular-dependency' refuses a project with uncommitted or "
                                         f"untracked changes ({UNTRACKED}); commit or stash them")
        result = op.runbook("run", *base, "--allow-dirty", "-q")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "✓ symptom" in result.stdout and "✓ keep-finflo-settings" not in result.stdout
        assert snapshot(op.path) == committed  # the committed files back, nothing regenerated left, nothing else
        assert op.git("status", "--porcelain", "--untracked-files=all") == f"?? {UNTRACKED}\n"
        op.manage("migrate", "--check")
        assert op.fingerprint() == db and op.surroundings() == around


def test_a_throwaway_database_is_for_demo_cells_only(tmp_path):
    from runbook.errors import BadInput
    from .notebook_builder import cell, write_runbook
    import nbformat

    path = write_runbook(tmp_path, "probe", [cell("fix", "!DATABASE_URL={old_database_url} python manage.py migrate")],
                         extra_parameters='old_database_url = "sqlite:///old.sqlite3"\n')
    nb = nbformat.read(path, as_version=4)
    nb.metadata["runbook"]["databases"] = ["old"]
    nbformat.write(nb, path)
    with pytest.raises(BadInput, match="cell 'fix': only demo cells may use the throwaway database 'old'"):
        notebooks.load(path)
