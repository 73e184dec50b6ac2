"""A reader follows each page's procedure in their own project, and finishes the task without losing data.

For each page (issue 20, item 5): a git-committed copy of the sample project whose database holds
the reader's own data (users, parties, currencies, invoices with their finflo workflows, payments;
no name shared with the pages' demo data), then the page's procedure exactly as shown: its
``procedure`` and ``check`` cells in runbook order (the hidden ``setup`` cell is the runner's
plumbing, ``demo`` cells are the page's demonstrations), each command run by ``bash`` in the
project folder, in a virtualenv that has the sample project's locked dependencies and not this
repository's ``runbook`` package. The environment is a plain shell's (PATH, HOME, LANG) plus
``DATABASE_URL`` and what the page itself tells the reader to set (``BACKUP_DIR``). An edit the page
shows as BEFORE/AFTER (a ``replace_in_file`` cell) is made by the test's own small editor.

Afterwards the test measures from its own process (the runner's .venv, the project's settings,
the same DATABASE_URL): every table's rows and columns, the migration state, the files around the
project. It asserts the task's success criteria, read from the page, and that no row of the
reader's data is lost or changed beyond what the task itself changes.

``test_a_page_without_its_last_procedure_step_fails_its_criteria`` drops the last ``procedure``
step of each page and asserts that the criteria then fail: a criterion that passes whatever the
reader did would not be one.
"""
from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runbook import databases, notebooks
from runbook.django_versions import NEWEST
from runbook.executor import copy_sample_project

from .conftest import REPO

SLUGS = ["circular-dependency", "reset-database", "rollback-migrations", "new-work-model", "backup-and-restore"]
# Rows `migrate` writes (finflo's migrations seed its tables; Django its bookkeeping).
SEEDED_BY_MIGRATE = {"finflo_signlist", "finflo_states", "finflo_action", "finflo_flowmodel",
                     "django_content_type", "auth_permission", "django_migrations"}
FINFLO_SEEDED = ("finflo_signlist", "finflo_states", "finflo_action", "finflo_flowmodel")
APP_TABLES = {"accounts_user", "accounts_parties", "accounts_userprocessauth",
              "transaction_currency", "transaction_invoice", "transaction_payment"}
# Pages whose procedure is known to lose precision; compared to the millisecond, with the reason.
# None: the backup page dumps XML, which keeps every microsecond (its JSON counter-run shows the loss).
MILLISECOND_ONLY: dict[str, str] = {}
# The criterion the last procedure step of each page delivers: it must fail without that step.
DELIVERED_BY_LAST_STEP = {
    "circular-dependency": "no row of a deleted migration is left in django_migrations",
    "reset-database": "every migration is applied",
    "rollback-migrations": "the scratch database is dropped and its settings file removed",
    "new-work-model": "every existing payment has a workflow",
    "backup-and-restore": "the scratch database and its settings are gone",
}


# --- the reader's project, data and session ----------------------------------------------------------

@dataclass
class Step:
    cell: str
    command: str
    expected_exit: int
    exit: int
    output: str

    @property
    def as_shown(self) -> bool:
        return self.exit == self.expected_exit


@dataclass
class Reader:
    """The reader's project and database; the test's own measuring runs with the runner's python."""

    root: Path
    project: Path
    database_url: str
    venv: Path
    backup_dir: Path | None = None
    steps: list[Step] = field(default_factory=list)
    steps_before_the_drop: list[Step] | None = None

    def reader_env(self) -> dict[str, str]:
        env = {"PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "VIRTUAL_ENV": str(self.venv),
               "HOME": str(self.root / "home"), "LANG": "C.UTF-8"}
        if self.database_url:  # a project whose settings name the database exports none
            env["DATABASE_URL"] = self.database_url
        if self.backup_dir is not None:
            env["BACKUP_DIR"] = str(self.backup_dir)
        return env

    def bash(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", command], cwd=self.project, env=self.reader_env(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=600)

    def test_python(self, *args: str, code: str | None = None) -> str:
        """The test's own measuring: the runner's python, the project's settings, the same database."""
        argv = [sys.executable, *(["-c", code] if code else args)]
        result = subprocess.run(argv, cwd=self.project, capture_output=True, text=True, timeout=600,
                                env={**os.environ, "DATABASE_URL": self.database_url, "PYTHONDONTWRITEBYTECODE": "1"})
        assert result.returncode == 0, f"$ {' '.join(argv[:4])}\n{result.stdout}{result.stderr}"
        return result.stdout

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=reader", "-c", "user.email=reader@localhost", *args],
                              cwd=self.project, capture_output=True, text=True, check=True).stdout

    def transcript(self) -> str:
        return "\n".join(f"[{s.cell}] $ {s.command[:160]}\n  exit {s.exit} (page: {s.expected_exit})\n"
                         + _indent(s.output[-1500:]) for s in self.steps)


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.splitlines())


# The reader's own data: names no page's demonstration uses (alice, INV-4, Seller GmbH, user0000,
# EUR...). Datetimes carry microseconds; each invoice is saved alone, so finflo's post_save signal
# gives it its workflow (TransitionManager, workflowitems, workevents), as in a real project.
EXTRA_DATA = r'''
import os, sys
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from django.contrib.auth.hashers import make_password
from django.db import transaction
from accounts.models import Parties, User, userprocessauth
from finflo.models import Action, Flowmodel
from transaction.models import Currency, Invoice, Payment

T0 = datetime(2024, 3, 5, 9, 15, 42, 987654, tzinfo=timezone.utc)
with transaction.atomic():
    password = make_password("reader-secret", salt="nordviksalt")
    users = [User.objects.create(
        username=f"nordvik.{name}", email=f"{name}@nordvik.test", password=password, first_name=name.title(),
        last_name="Ångström-Ñúñez", phone=f"+46 8 {i:06d}", is_staff=i == 0, is_superuser=i == 0,
        date_joined=T0 + timedelta(days=i, microseconds=111_111 * i + 1),
        last_login=T0 + timedelta(days=i + 3, microseconds=7 * i + 3))
        for i, name in enumerate(["maja", "oskar", "linnea", "emil"])]
    currencies = [Currency.objects.create(code=code, name=name) for code, name in
                  [("SEK", "Swedish krona"), ("NOK", "Norwegian krone"), ("DKK", "Danish krone")]]
    parties = []
    for i, (name, kind) in enumerate([("Fjord Timber", "SELLER"), ("Kattegat Freight", "BUYER"),
                                      ("Öresund Glas", "BUYER"), ("Lofoten Fisk", "SELLER")]):
        if i == 3:  # a deleted party leaves a gap in the ids
            Parties.objects.create(name="Nordvik Closed AB").delete()
        parties.append(Parties.objects.create(name=f"{name} AB", party_type=kind,
                                              base_currency=None if i == 2 else currencies[i % 3]))
    invoices = [Invoice.objects.create(
        number=f"NV-2024-{i:04d}", party=parties[i % 4], created_by=users[i % 4] if i % 5 else None,
        currency=currencies[i % 3], amount=Decimal("1234.56") + i * Decimal("10.01"),
        issued_on=date(2024, 2, 1) + timedelta(days=i)) for i in range(12)]
    for i, invoice in enumerate(invoices):
        for j in range(i % 3):
            Payment.objects.create(invoice=invoice, amount=Decimal("100.05") * (j + 1),
                                   paid_on=date(2024, 4, 1) + timedelta(days=i + j))
    userprocessauth.objects.create(sign_required=1, data_entry=True, user=users[1],
                                   model=Flowmodel.objects.get(description="transaction.invoice"),
                                   action=Action.objects.order_by("id").first())
print(User.objects.count(), Invoice.objects.count(), Payment.objects.count())
'''

# The test's measuring: every table's columns and rows (primary-key order, each value in
# runbook.fingerprint's canonical form, full precision and to the millisecond), the migrations
# applied and pending, the superusers; optionally a payment saved and rolled back.
MEASURE = r'''
import json, os, sys
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from runbook.fingerprint import _canonical

result = {"tables": {}, "applied": [], "pending": None, "superusers": [], "probe_payment": None}
quote = connection.ops.quote_name
with connection.cursor() as cursor:
    for table in sorted(connection.introspection.table_names(include_views=False)):
        columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
        keys = connection.introspection.get_primary_key_columns(cursor, table) or columns
        cursor.execute(f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)} "
                       f"ORDER BY {', '.join(quote(k) for k in keys)}")
        rows = cursor.fetchall()
        result["tables"][table] = {
            "columns": columns,
            "rows": [[_canonical(v) for v in row] for row in rows],
            "rows_ms": [[_canonical(v, milliseconds=True) for v in row] for row in rows],
        }
try:
    executor = MigrationExecutor(connection)
    result["applied"] = sorted(list(key) for key in executor.loader.applied_migrations)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    result["pending"] = [f"{m.app_label}.{m.name}" for m, _ in plan]
except Exception as exc:  # a cycle, or tables missing
    result["pending"] = f"error: {type(exc).__name__}: {exc}"
if "accounts_user" in result["tables"]:
    from accounts.models import User
    result["superusers"] = [[u.username, u.has_usable_password()] for u in User.objects.filter(is_superuser=True)]
if "--probe-payment" in sys.argv and "transaction_payment" in result["tables"]:
    from finflo.models import TransitionManager
    from transaction.models import Invoice, Payment
    with transaction.atomic():
        payment = Payment.objects.create(invoice=Invoice.objects.order_by("id").first(), amount="1.00",
                                         paid_on="2024-12-31")
        result["probe_payment"] = TransitionManager.objects.filter(type="transaction.payment",
                                                                   t_id=payment.id).count()
        transaction.set_rollback(True)
print(json.dumps(result))
'''


def measure(reader: Reader, probe_payment: bool = False) -> dict:
    return json.loads(reader.test_python(code=MEASURE) if not probe_payment else
                      reader.test_python("-c", MEASURE, "--probe-payment"))


def surroundings(reader: Reader) -> dict[str, float]:
    """Files around the project (its parent folder, the reader's home) outside $BACKUP_DIR.

    A SQLite database lives next to this folder, not in it: a command that wrote a database file
    here or in the project would not have used DATABASE_URL.
    """
    return {str(p): p.stat().st_mtime_ns for p in reader.root.rglob("*")
            if p.is_file() and reader.project not in p.parents
            and not (reader.backup_dir and reader.backup_dir in p.parents)}


def page_backup_dir_line() -> str:
    """The line the backup page gives readers to set $BACKUP_DIR (its 'Before you start')."""
    text = (REPO / "docs/how-to/backup-and-restore.md").read_text()
    lines = re.findall(r"`(export BACKUP_DIR=[^`]+)`", text)
    assert len(lines) == 1, "the backup page no longer shows one `export BACKUP_DIR=...` line"
    return lines[0]


# --- following the page ----------------------------------------------------------------------------

# The circular page has two procedures, for two situations: the deleted migrations were committed
# (restore them) or never were (regenerate them). A reader follows one: the runbook's procedure of
# that name (notebook metadata `procedures`).
CIRCULAR_PROCEDURES = {"restore": "committed", "regenerate": "never-committed"}


def reader_steps(runbook: notebooks.Runbook, engine: str, path: str | None = None) -> list[notebooks.Cell]:
    """The page's procedure: its procedure and check cells in order, without the runner's plumbing.

    ``path`` picks one of the circular page's two procedures: "restore" or "regenerate"."""
    if path is not None:
        runbook = runbook.with_procedure(CIRCULAR_PROCEDURES[path])
    # The reader's venv has the lock's Django (the newest): a step only another version needs is not theirs.
    return [c for c in runbook.operator_cells
            if not c.is_parameters and not c.hidden and c.runs_on(engine) and c.runs_with(NEWEST)]


def edit_as_shown(reader: Reader, cell: notebooks.Cell, shown: dict) -> Step:
    """The reader's editor: find the BEFORE text once in the file, put the AFTER text in its place
    (with the page's names: ``shown``, the runbook's defaults, fill any ``{parameter}``)."""
    call = ast.parse(cell.source).body[0].value
    assert isinstance(call, ast.Call) and call.func.id == "replace_in_file", cell.id
    values = dict(zip(("path", "old", "new"), (ast.literal_eval(a) for a in call.args)))
    values.update({k.arg: ast.literal_eval(k.value) for k in call.keywords})
    values = {key: notebooks.fill(value, shown) for key, value in values.items()}
    file = reader.project / values["path"]
    text = file.read_text() if file.is_file() else ""
    found = text.count(values["old"])
    if found == 1:
        file.write_text(text.replace(values["old"], values["new"]))
    return Step(cell.id, f"edit {values['path']}", 0, 0 if found == 1 else 1,
                "" if found == 1 else f"the BEFORE text is in the file {found} times, not once")


def follow(reader: Reader, runbook: notebooks.Runbook, engine: str, drop_last_procedure_step: bool = False,
           path: str | None = None) -> None:
    """Run the page's procedure as a reader does; stop at a step that does not end as the page shows.

    With ``drop_last_procedure_step`` the reader skips the last ``procedure`` cell and, told nothing,
    goes on through every later step whatever happens.
    """
    cells = reader_steps(runbook, engine, path)
    dropped = max(i for i, c in enumerate(cells) if c.role == "procedure") if drop_last_procedure_step else None
    for index, cell in enumerate(cells):
        if index == dropped:
            reader.steps_before_the_drop = list(reader.steps)
            continue
        if "replace_in_file(" in cell.source:
            reader.steps.append(edit_as_shown(reader, cell, runbook.defaults))
        else:
            for command in cell.commands_with(runbook.defaults):
                result = reader.bash(command)
                reader.steps.append(Step(cell.id, command, cell.expect.exit, result.returncode, result.stdout))
                if not reader.steps[-1].as_shown:
                    break
        if not reader.steps[-1].as_shown and not drop_last_procedure_step:
            pytest.fail(f"{runbook.slug} on {engine}: step {cell.id!r} did not end as the page shows; the reader "
                        f"stops here.\n{reader.transcript()}")


# The sample's setting that keeps finflo's migrations in the project, with its comment.
MIGRATION_MODULES_BLOCK = re.compile(r"(?:^#[^\n]*\n)*^MIGRATION_MODULES = [^\n]*\n", re.M)


def regenerate_migrations(reader: Reader) -> None:
    """The circular page's symptom: both apps' migrations deleted and made again by one makemigrations.

    Made while the project still reads finflo's migrations from finflo_migrations/, so nothing is
    written into an installed package."""
    for app in ("accounts", "transaction"):
        shutil.rmtree(reader.project / app / "migrations")
    reader.test_python("manage.py", "makemigrations", "accounts", "transaction")


@contextlib.contextmanager
def reader_project(slug: str, engine: str, tmp_path: Path, venv: Path, path: str | None = None):
    root = tmp_path / "reader"
    (root / "home").mkdir(parents=True)
    with databases.scratch_database(engine, tmp_path, f"reader_{slug}") as db:
        reader = Reader(root, copy_sample_project(root / "myproject"), db.url, venv)
        # The reader's database applied the project's migrations and holds their data.
        reader.test_python("manage.py", "migrate", "-v", "0")
        reader.test_python(code=EXTRA_DATA)
        if slug == "circular-dependency":
            regenerate_migrations(reader)
            if path == "regenerate":
                # Never committed: the project has neither MIGRATION_MODULES nor finflo_migrations/,
                # as on a teammate's machine (the regenerated files depend on finflo's 0003).
                settings = reader.project / "config/settings.py"
                text, found = MIGRATION_MODULES_BLOCK.subn("", settings.read_text())
                assert found == 1, "the sample's settings no longer set MIGRATION_MODULES"
                settings.write_text(text)
                shutil.rmtree(reader.project / "finflo_migrations")
                reader.git("add", "-A")
                reader.git("commit", "-qm", "regenerated migrations")
        if slug == "rollback-migrations":
            _recent_change(reader)
        if slug in ("backup-and-restore", "rollback-migrations", "reset-database"):
            line = page_backup_dir_line()  # the page: `export BACKUP_DIR=~/backups/...`, run by the reader
            made = reader.bash(f'{line} && printf %s "$BACKUP_DIR"')
            assert made.returncode == 0, made.stdout
            reader.backup_dir = Path(made.stdout)
            assert reader.backup_dir.is_dir() and reader.root / "home" in reader.backup_dir.parents
        if path != "restore":  # the restore path starts from the deletion, not committed
            assert reader.git("status", "--porcelain") == "", "the reader's project starts committed"
        try:
            yield reader
        finally:
            if slug == "rollback-migrations":  # a reader who stopped before the last step leaves it behind
                _scratch_database(reader, drop=True)


# The change the rollback page undoes, as the reader made it: a field on Invoice (the page's own
# edit), its migration made and applied, values in it (not every invoice has one), committed.
DUE_ON_VALUES = r'''
import os, sys
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from datetime import date, timedelta
from transaction.models import Invoice
for i, invoice in enumerate(Invoice.objects.order_by("pk")):
    if i % 3:
        invoice.due_on = date(2024, 3, 1) + timedelta(days=7 * i)
        invoice.save(update_fields=["due_on"])
print(Invoice.objects.filter(due_on__isnull=False).count())
'''

# The scratch database the backup, reset and rollback pages make beside the reader's: does it exist (and drop it).
SCRATCH_DATABASE = r'''
import os, sys
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.db import connection
name = connection.settings_dict["NAME"] + "_scratch"
if connection.vendor == "sqlite":
    exists = os.path.exists(name)
    if exists and "--drop" in sys.argv:
        os.remove(name)
else:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s" if connection.vendor == "postgresql" else
                       "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name])
        exists = cursor.fetchone() is not None
        if exists and "--drop" in sys.argv:
            cursor.execute("DROP DATABASE " + connection.ops.quote_name(name))
print(exists)
'''


def _recent_change(reader: Reader) -> None:
    rollback = notebooks.find("rollback-migrations")
    step = edit_as_shown(reader, rollback.cell("add-due-on"), rollback.defaults)
    assert step.as_shown, step.output
    reader.test_python("manage.py", "makemigrations", "transaction")
    reader.test_python("manage.py", "migrate", "-v", "0")
    assert int(reader.test_python(code=DUE_ON_VALUES)) > 0
    reader.git("add", "-A")
    reader.git("commit", "-qm", "invoices have a due date")


def _scratch_database(reader: Reader, drop: bool = False) -> bool:
    return reader.test_python("-c", SCRATCH_DATABASE, *(["--drop"] if drop else [])).strip() == "True"


# --- the task's success criteria, per page ---------------------------------------------------------

def criteria(slug: str, reader: Reader, before: dict, after: dict) -> list[tuple[str, bool, str]]:
    """(criterion, holds, detail) for the page's task, measured from the test's process."""
    return CRITERIA[slug](reader, before, after)


def _rows(snapshot: dict, table: str, ms: bool = False) -> list[list]:
    return snapshot["tables"].get(table, {}).get("rows_ms" if ms else "rows", [])


def _changed_tables(before: dict, after: dict, ignore: set[str], ms: bool = False) -> list[str]:
    tables = (set(before["tables"]) | set(after["tables"])) - ignore
    return sorted(t for t in tables if t not in after["tables"] or t not in before["tables"]
                  or before["tables"][t]["columns"] != after["tables"][t]["columns"]
                  or _rows(before, t, ms) != _rows(after, t, ms))


def _all_applied(after: dict) -> tuple[str, bool, str]:
    return ("every migration is applied", after["pending"] == [], f"pending: {after['pending']}")


def _finflo_seeded(after: dict) -> tuple[str, bool, str]:
    empty = [t for t in FINFLO_SEEDED if not _rows(after, t)]
    return ("finflo's seeded rows exist", not empty, f"empty or missing: {empty}")


def _stale_migration_rows(reader: Reader, after: dict) -> list[str]:
    """Rows of django_migrations whose migration file is gone (accounts, transaction, finflo)."""
    folders = {"accounts": "accounts/migrations", "transaction": "transaction/migrations", "finflo": "finflo_migrations"}
    return sorted(f"{app}.{name}" for app, name in after["applied"]
                  if app in folders and not (reader.project / folders[app] / f"{name}.py").is_file())


def _teammate_migrates(reader: Reader) -> tuple[bool, str]:
    """The reader commits what the page lists; a teammate clones it and migrates a new database with
    the reader's virtualenv, whose finflo package has only the migrations finflo ships."""
    reader.git("add", "-A")
    reader.git("commit", "-qm", "migrations without the cycle", "--allow-empty")
    clone = reader.root / "teammate"
    subprocess.run(["git", "clone", "-q", str(reader.project), str(clone)], check=True, capture_output=True)
    env = {**reader.reader_env(), "DATABASE_URL": f"sqlite:///{reader.root / 'teammate.sqlite3'}"}
    result = subprocess.run([str(reader.venv / "bin/python"), "manage.py", "migrate", "-v", "0"], cwd=clone, env=env,
                            capture_output=True, text=True, timeout=600)
    shutil.rmtree(clone)
    (reader.root / "teammate.sqlite3").unlink(missing_ok=True)
    return result.returncode == 0, (result.stdout + result.stderr)[-800:]


def _written_into_finflo(reader: Reader) -> list[str]:
    """Files in the reader's installed finflo package that pip did not install (its RECORD)."""
    site = next((reader.venv / "lib").glob("python3*/site-packages"))
    record = next(site.glob("finflo-*.dist-info")) / "RECORD"
    installed = {line.split(",")[0] for line in record.read_text().splitlines()}
    return sorted(str(p.relative_to(site)) for p in (site / "finflo").rglob("*.py")
                  if str(p.relative_to(site)) not in installed)


def _circular(reader, before, after):
    result = [_all_applied(after), _finflo_seeded(after)]
    written = _written_into_finflo(reader)
    result.append(("nothing was written into the installed finflo package", written == [], f"written: {written}"))
    missing = sorted(APP_TABLES - set(after["tables"]))
    result.append(("the apps' tables exist", not missing, f"missing: {missing}"))
    # The reader's database applied the old migrations: its data stays, at full precision.
    changed = _changed_tables(before, after, {"django_migrations"})
    result.append(("the reader's data is unchanged (full precision)", changed == [], f"changed: {changed}"))
    stale = _stale_migration_rows(reader, after)
    result.append(("no row of a deleted migration is left in django_migrations", stale == [], f"rows: {stale}"))
    # The page: models are never commented out; only migration files change.
    left = reader.git("diff", "HEAD", "--stat", "--", "accounts/models.py", "accounts/admin.py")
    result.append(("no code is left commented out (models and admin as committed)", left == "", left))
    cycle = subprocess.run([str(reader.venv / "bin/python"), "manage.py", "makemigrations", "--check", "--dry-run"],
                           cwd=reader.project, env=reader.reader_env(), capture_output=True, text=True)
    result.append(("the models match the migrations", cycle.returncode == 0, cycle.stdout + cycle.stderr))
    ok, detail = _teammate_migrates(reader)
    result.append(("a teammate's fresh checkout migrates a new database", ok, detail))
    return result


def _circular_restore(reader, before, after):
    result = [_all_applied(after)]
    changed = _changed_tables(before, after, set())
    result.append(("the reader's data and migration records are unchanged (full precision)", changed == [],
                   f"changed: {changed}"))
    status = reader.git("status", "--porcelain", "--untracked-files=all")
    result.append(("the migration files are the committed ones, with nothing left over", status == "", status))
    return result


# Whether the scratch database the reset's step 4 made (the settings' NAME with "_scratch") still exists.


def _reset(reader, before, after):
    result = [_all_applied(after), _finflo_seeded(after)]
    result.append(("every table exists again", set(after["tables"]) == set(before["tables"]),
                   f"missing: {sorted(set(before['tables']) - set(after['tables']))}"))
    kept = {t: len(v["rows"]) for t, v in after["tables"].items() if v["rows"] and t not in SEEDED_BY_MIGRATE}
    result.append(("the reader's data is gone (the task)", kept == {}, f"rows left: {kept}"))
    # The page's first paragraph: "every table and finflo's seeded rows"; the superuser is the reader's
    # own, made afterwards at a terminal with their password, so none is left over.
    result.append(("no superuser is left from before (the reset deleted them)", after["superusers"] == [],
                   f"superusers (name, usable password): {after['superusers']}"))
    # The page's backup: XML in $BACKUP_DIR that holds the reader's rows, proven in a scratch database
    # before the drop (its fingerprint and the scratch database's are the same).
    backups = sorted(reader.backup_dir.glob("*.xml")) if reader.backup_dir else []
    text = "".join(b.read_text() for b in backups)  # finflo's file and the other apps' (the backup page's pair)
    names = [f"NV-2024-{i:04d}" for i in range(12)] + [f"nordvik.{n}" for n in ("maja", "oskar", "linnea", "emil")]
    result.append(("a backup holding the reader's invoices and users was written to $BACKUP_DIR first",
                   all(f">{name}<" in text for name in names), f"backups: {[b.name for b in backups]}"))
    prints = [reader.backup_dir / f for f in ("database.sha256", "scratch.sha256")] if reader.backup_dir else []
    proven = all(p.is_file() for p in prints) and prints[0].read_text() == prints[1].read_text() \
        and "transaction_invoice 12 " in prints[0].read_text()
    result.append(("the backup was loaded into a scratch database and compared, every table the same", proven,
                   f"fingerprints: {[p.name for p in prints if p.is_file()]}"))
    left = _scratch_database(reader)
    result.append(("no scratch database is left", not left, f"scratch database exists: {left}"))
    # Python's bytecode caches aside (the reader's shell writes them; the sample has no .gitignore).
    status = [line for line in reader.git("status", "--porcelain", "--untracked-files=all").splitlines()
              if "__pycache__/" not in line]
    result.append(("the scratch settings module is removed (the project's files are as committed)",
                   status == [] and not (reader.project / "config/scratch_settings.py").exists(), f"{status}"))
    return result


def _rollback(reader, before, after):
    migration = ("transaction", "0002_invoice_due_on")
    applied = {tuple(k) for k in after["applied"]}
    result = [("transaction.0001_initial is applied", ("transaction", "0001_initial") in applied, ""),
              ("the migration is unapplied", migration not in applied, "")]
    unapplied = sorted({tuple(k) for k in before["applied"]} - applied)
    result.append(("only that migration is unapplied", unapplied == [migration], f"unapplied: {unapplied}"))
    # The task drops what the migration created: the column Invoice.due_on (the page's plan says so).
    # Every other value stays, at full precision.
    changed = _changed_tables(before, after, {"transaction_invoice", "django_migrations"})
    result.append(("no other table's rows changed (full precision)", changed == [], f"changed: {changed}"))
    b, a = before["tables"]["transaction_invoice"], after["tables"].get("transaction_invoice", {"columns": [], "rows": []})
    kept = [c for c in b["columns"] if c in a["columns"]]
    project = lambda t: [[row[t["columns"].index(c)] for c in kept] for row in t["rows"]]  # noqa: E731
    result.append(("Invoice lost the column due_on (the task) and kept every row and other value",
                   set(b["columns"]) - set(kept) == {"due_on"} and project(a) == project(b),
                   f"columns before {b['columns']}, after {a['columns']}"))
    # ... and the code: the migration file gone, the model as it was before the change (the reader's
    # other work in it would stay: the page edits the field's line out), models and migrations agreeing.
    result.append(("the migration file is removed",
                   not (reader.project / "transaction/migrations/0002_invoice_due_on.py").exists(), ""))
    model = reader.git("diff", "HEAD~1", "--", "transaction/models.py")
    result.append(("the model is as before the change", model == "", model))
    check = subprocess.run([str(reader.venv / "bin/python"), "manage.py", "makemigrations", "--check", "--dry-run"],
                           cwd=reader.project, env=reader.reader_env(), capture_output=True, text=True)
    result.append(("makemigrations --check passes", check.returncode == 0, check.stdout + check.stderr))
    result.append(("migrate --check passes (nothing pending)", after["pending"] == [], f"pending: {after['pending']}"))
    backups = sorted(p.name for p in reader.backup_dir.iterdir() if p.stat().st_size) if reader.backup_dir else []
    result.append(("a backup was written to $BACKUP_DIR first", {"finflo.xml", "other-apps.xml"} <= set(backups),
                   f"files: {backups}"))
    left = [str(p) for p in [reader.project / "config/scratch_settings.py"] if p.exists()]
    result.append(("the scratch database is dropped and its settings file removed",
                   not left and not _scratch_database(reader), f"left: {left or 'the scratch database'}"))
    return result


def _new_work_model(reader, before, after):
    flowmodels = [r[after["tables"]["finflo_flowmodel"]["columns"].index("description")]
                  for r in _rows(after, "finflo_flowmodel")]
    result = [("finflo has one Flowmodel row for transaction.payment", flowmodels.count("transaction.payment") == 1,
               f"descriptions: {flowmodels}"), _all_applied(after)]
    for table in ("finflo_flowmodel", "finflo_states", "finflo_action"):
        kept = [r for r in _rows(before, table) if r in _rows(after, table)]
        result.append((f"the existing {table} rows are unchanged", kept == _rows(before, table), ""))
    # The payment's action (issue 24): finflo finds it by name and Flowmodel row (transition.py:145-150).
    action, flow = after["tables"]["finflo_action"], after["tables"]["finflo_flowmodel"]
    payment_flow = [r[flow["columns"].index("id")] for r in flow["rows"]
                    if r[flow["columns"].index("description")] == "transaction.payment"]
    submit = [r for r in action["rows"] if r[action["columns"].index("description")] == "SUBMIT"
              and r[action["columns"].index("model_id")] in payment_flow]
    result.append(("payments have their SUBMIT action", len(submit) == 1, f"SUBMIT actions: {submit}"))
    # The data migration gives each existing payment its workflow: a manager, an item and an event.
    workflow_tables = {"finflo_transitionmanager", "finflo_workflowitems", "finflo_workevents"}
    changed = _changed_tables(before, after, {"finflo_flowmodel", "finflo_states", "finflo_action",
                                              "django_migrations", *workflow_tables})
    result.append(("no other table's rows changed (full precision)", changed == [], f"changed: {changed}"))
    kept_workflows = all(r in _rows(after, t) for t in workflow_tables for r in _rows(before, t))
    result.append(("the invoices' workflows are unchanged", kept_workflows, ""))
    added = sorted({tuple(k) for k in after["applied"]} - {tuple(k) for k in before["applied"]})
    result.append(("only the new migration was applied", len(added) == 1 and added[0][0] == "transaction"
                   and set(map(tuple, before["applied"])) <= set(map(tuple, after["applied"])), f"added: {added}"))
    probe = measure(reader, probe_payment=True)["probe_payment"]
    result.append(("a payment saved now gets its workflow", probe == 1, f"workflows of a new payment: {probe}"))
    # The task (issue 20): payments become a work model on a database that has payments, so each
    # existing payment needs its workflow too (the data migration's second function).
    tm = after["tables"]["finflo_transitionmanager"]
    followed = Counter((r[tm["columns"].index("type")], r[tm["columns"].index("t_id")]) for r in tm["rows"])
    payments = [r[0] for r in _rows(after, "transaction_payment")]
    without = [p for p in payments if not followed[("transaction.payment", p)]]
    result.append(("every existing payment has a workflow", not without,
                   f"{len(without)} of {len(payments)} payments have none"))
    twice = [p for p in payments if followed[("transaction.payment", p)] > 1]
    result.append(("no payment has more than one workflow", not twice, f"payments with several: {twice}"))
    return result




def _backup_and_restore(reader, before, after):
    # The page proves its backups in a scratch database: the reader's own is only read, so every
    # table, content types and permissions included, is as it was, at full precision.
    ms = "backup-and-restore" in MILLISECOND_ONLY
    changed = _changed_tables(before, after, set(), ms=ms)
    result = [("the reader's database is unchanged (every table, full precision)", changed == [],
               f"tables that differ{' at the millisecond' if ms else ''}: {changed}")]
    if ms:
        lossless = _changed_tables(before, after, set()) == []
        result.append(("the known limit still holds (else drop backup-and-restore from MILLISECOND_ONLY)",
                       not lossless, "the restore kept every microsecond: compare at full precision now"))
    result.append(_all_applied(after))
    # Both backups were written to $BACKUP_DIR and proven there (the page's comparisons exit 1 otherwise).
    files = sorted(p.name for p in reader.backup_dir.iterdir()) if reader.backup_dir else []
    engine_backup = {"sqlite": "database.sqlite3", "postgresql": "database.dump", "mariadb": "database.sql"}
    wanted = {"finflo.xml", "other-apps.xml", engine_backup[databases.engine_of(reader.database_url)]}
    result.append(("the engine's backup and the dumpdata pair are in $BACKUP_DIR", wanted <= set(files), f"files: {files}"))
    text = "".join((reader.backup_dir / f).read_text() for f in ("finflo.xml", "other-apps.xml") if f in files)
    names = [f"NV-2024-{i:04d}" for i in range(12)] + [f"nordvik.{n}" for n in ("maja", "oskar", "linnea", "emil")]
    result.append(("the dumpdata pair holds the reader's invoices and users", all(f">{n}<" in text for n in names), ""))
    left = _scratch_database(reader)
    settings_left = (reader.project / "config/scratch_settings.py").exists()
    result.append(("the scratch database and its settings are gone", not left and not settings_left,
                   f"scratch database left: {left}, config/scratch_settings.py left: {settings_left}"))
    return result


CRITERIA = {"circular-dependency": _circular, "reset-database": _reset, "rollback-migrations": _rollback,
            "new-work-model": _new_work_model, "backup-and-restore": _backup_and_restore}


# --- the tests -------------------------------------------------------------------------------------

def _run(slug: str, engine: str, tmp_path: Path, venv: Path, drop_last_procedure_step: bool, path: str | None = None):
    runbook = notebooks.find(slug)
    path = path or ("regenerate" if slug == "circular-dependency" else None)
    with reader_project(slug, engine, tmp_path, venv, path) as reader:
        before, around = measure(reader), surroundings(reader)
        follow(reader, runbook, engine, drop_last_procedure_step, path)
        after = measure(reader)
        outside = sorted(set(surroundings(reader).items()) ^ set(around.items()))
        results = _circular_restore(reader, before, after) if path == "restore" else criteria(slug, reader, before, after)
        results.append(("no file written outside the project and $BACKUP_DIR", not outside, f"{outside}"))
        return reader, results


def _report(results) -> str:
    return "\n".join(f"  {'✓' if ok else '✗'} {name}" + (f": {detail}" if not ok and detail else "")
                     for name, ok, detail in results)


@pytest.mark.parametrize("slug", SLUGS)
def test_a_reader_who_follows_the_page_finishes_the_task_and_loses_nothing(slug, engine, tmp_path, reader_venv):
    reader, results = _run(slug, engine, tmp_path, reader_venv, drop_last_procedure_step=False)
    failed = [r for r in results if not r[1]]
    assert not failed, f"{slug} on {engine}: the reader followed the page; the task is not done:\n" \
                       f"{_report(results)}\n\nwhat the reader ran:\n{reader.transcript()}"


# On SQLite only: this tests the criteria (measured by this file through Django, the same on every
# engine), not the page; the test above follows every page on every engine.
@pytest.mark.parametrize("slug", SLUGS)
def test_a_page_without_its_last_procedure_step_fails_its_criteria(slug, tmp_path, reader_venv):
    engine = "sqlite"
    reader, results = _run(slug, engine, tmp_path, reader_venv, drop_last_procedure_step=True)
    # The steps up to the dropped one end as the page shows: the criteria fail for want of that step.
    assert reader.steps_before_the_drop and all(s.as_shown for s in reader.steps_before_the_drop), reader.transcript()
    delivered = dict((name, ok) for name, ok, _ in results)[DELIVERED_BY_LAST_STEP[slug]]
    assert not delivered, f"{slug} on {engine}: without its last procedure step the criterion " \
                          f"{DELIVERED_BY_LAST_STEP[slug]!r} still holds:\n{_report(results)}"


def test_every_runbook_has_a_reader_and_criteria():
    """A new page is followed by a reader too: its criteria and the one its last step delivers are named."""
    assert sorted(SLUGS) == sorted(r.slug for r in notebooks.all_runbooks())
    assert set(CRITERIA) == set(DELIVERED_BY_LAST_STEP) == set(SLUGS)


def test_a_reader_whose_deleted_migrations_were_committed_restores_them(engine, tmp_path, reader_venv):
    """The circular page's first procedure: git restore, the leftover regenerated file removed, nothing faked."""
    reader, results = _run("circular-dependency", engine, tmp_path, reader_venv, False, path="restore")
    failed = [r for r in results if not r[1]]
    assert not failed, f"circular-dependency (restore) on {engine}: the task is not done:\n{_report(results)}\n\n" \
                       f"what the reader ran:\n{reader.transcript()}"
