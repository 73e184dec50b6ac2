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
from runbook.executor import copy_sample_project

from .conftest import REPO

SLUGS = ["circular-dependency", "reset-database", "rollback-migrations", "new-work-model", "backup-and-restore"]
# What the sample project needs, pinned by constraints.txt; no `runbook`, no Jupyter.
READER_PACKAGES = ["django", "finflo", "djangorestframework", "dj-database-url", "psycopg[binary]", "PyMySQL"]
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
    "circular-dependency": "every migration is applied",
    "reset-database": "every migration is applied",
    "rollback-migrations": "the later migration of accounts is unapplied",
    "new-work-model": "every existing payment has a workflow",
    "backup-and-restore": "the scratch database and its settings are gone",
}


# --- the reader's virtualenv -----------------------------------------------------------------------

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
               "HOME": str(self.root / "home"), "LANG": "C.UTF-8", "DATABASE_URL": self.database_url}
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

def reader_steps(runbook: notebooks.Runbook, engine: str) -> list[notebooks.Cell]:
    """The page's procedure: its procedure and check cells in order, without the runner's plumbing."""
    return [c for c in runbook.operator_cells
            if not c.is_parameters and not c.hidden and c.runs_on(engine)]


def edit_as_shown(reader: Reader, cell: notebooks.Cell) -> Step:
    """The reader's editor: find the BEFORE text once in the file, put the AFTER text in its place."""
    call = ast.parse(cell.source).body[0].value
    assert isinstance(call, ast.Call) and call.func.id == "replace_in_file", cell.id
    values = dict(zip(("path", "old", "new"), (ast.literal_eval(a) for a in call.args)))
    values.update({k.arg: ast.literal_eval(k.value) for k in call.keywords})
    file = reader.project / values["path"]
    text = file.read_text() if file.is_file() else ""
    found = text.count(values["old"])
    if found == 1:
        file.write_text(text.replace(values["old"], values["new"]))
    return Step(cell.id, f"edit {values['path']}", 0, 0 if found == 1 else 1,
                "" if found == 1 else f"the BEFORE text is in the file {found} times, not once")


def follow(reader: Reader, runbook: notebooks.Runbook, engine: str, drop_last_procedure_step: bool = False) -> None:
    """Run the page's procedure as a reader does; stop at a step that does not end as the page shows.

    With ``drop_last_procedure_step`` the reader skips the last ``procedure`` cell and, told nothing,
    goes on through every later step whatever happens.
    """
    cells = reader_steps(runbook, engine)
    dropped = max(i for i, c in enumerate(cells) if c.role == "procedure") if drop_last_procedure_step else None
    for index, cell in enumerate(cells):
        if index == dropped:
            reader.steps_before_the_drop = list(reader.steps)
            continue
        if "replace_in_file(" in cell.source:
            reader.steps.append(edit_as_shown(reader, cell))
        else:
            for command in cell.commands_with(runbook.defaults):
                result = reader.bash(command)
                reader.steps.append(Step(cell.id, command, cell.expect.exit, result.returncode, result.stdout))
                if not reader.steps[-1].as_shown:
                    break
        if not reader.steps[-1].as_shown and not drop_last_procedure_step:
            pytest.fail(f"{runbook.slug} on {engine}: step {cell.id!r} did not end as the page shows; the reader "
                        f"stops here.\n{reader.transcript()}")


@contextlib.contextmanager
def reader_project(slug: str, engine: str, tmp_path: Path, venv: Path):
    root = tmp_path / "reader"
    (root / "home").mkdir(parents=True)
    with databases.scratch_database(engine, tmp_path, f"reader_{slug}") as db:
        reader = Reader(root, copy_sample_project(root / "myproject"), db.url, venv)
        if slug == "circular-dependency":
            # The page's symptom: both apps' migrations deleted and made again app by app, committed,
            # and no database can be migrated, so none holds data yet (the reader's data is loaded
            # once the page's procedure has made the project migrate).
            for app in ("accounts", "transaction"):
                shutil.rmtree(reader.project / app / "migrations")
            reader.test_python("manage.py", "makemigrations", "accounts")
            reader.git("add", "-A")
            reader.git("commit", "-qm", "regenerated migrations")
        else:
            reader.test_python("manage.py", "migrate", "-v", "0")
            reader.test_python(code=EXTRA_DATA)
        if slug in ("backup-and-restore", "rollback-migrations", "reset-database"):
            line = page_backup_dir_line()  # the page: `export BACKUP_DIR=~/backups/...`, run by the reader
            made = reader.bash(f'{line} && printf %s "$BACKUP_DIR"')
            assert made.returncode == 0, made.stdout
            reader.backup_dir = Path(made.stdout)
            assert reader.backup_dir.is_dir() and reader.root / "home" in reader.backup_dir.parents
        assert reader.git("status", "--porcelain") == "", "the reader's project starts committed"
        yield reader


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


def _circular(reader, before, after):
    result = [_all_applied(after), _finflo_seeded(after)]
    missing = sorted(APP_TABLES - set(after["tables"]))
    result.append(("the apps' tables exist", not missing, f"missing: {missing}"))
    # The page: "ends with a plain migrate that works, without code left commented out".
    left = reader.git("diff", "HEAD", "--stat", "--", "accounts/models.py", "accounts/admin.py")
    result.append(("no code is left commented out (models and admin as committed)", left == "", left))
    cycle = subprocess.run([str(reader.venv / "bin/python"), "manage.py", "makemigrations", "--check", "--dry-run"],
                           cwd=reader.project, env=reader.reader_env(), capture_output=True, text=True)
    result.append(("the models match the migrations", cycle.returncode == 0, cycle.stdout + cycle.stderr))
    if not missing and after["pending"] == []:
        # The reader's data goes into the project the page made migrate, workflows included.
        loaded = reader.test_python(code=EXTRA_DATA).split()
        workflows = len(_rows(measure(reader), "finflo_transitionmanager"))
        result.append(("the reader's data loads, each invoice with its workflow",
                       loaded == ["4", "12", "12"] and workflows == 12, f"{loaded}, {workflows} workflows"))
    return result


def _reset(reader, before, after):
    result = [_all_applied(after), _finflo_seeded(after)]
    result.append(("every table exists again", set(after["tables"]) == set(before["tables"]),
                   f"missing: {sorted(set(before['tables']) - set(after['tables']))}"))
    kept = {t: len(v["rows"]) for t, v in after["tables"].items() if v["rows"] and t not in SEEDED_BY_MIGRATE}
    result.append(("the reader's data is gone (the task)", kept == {}, f"rows left: {kept}"))
    # The page's first paragraph: "every table and finflo's seeded rows"; the superuser is the reader's
    # own, made afterwards with their password (its step runs on the sample only), so none is left over.
    result.append(("no superuser is left from before (the reset deleted them)", after["superusers"] == [],
                   f"superusers (name, usable password): {after['superusers']}"))
    # The page's first step: an XML backup in $BACKUP_DIR that holds the reader's rows (the page's
    # demonstration restores it; the backup page compares every value of such a restore).
    backups = sorted(reader.backup_dir.glob("*.xml")) if reader.backup_dir else []
    text = "".join(b.read_text() for b in backups)  # finflo's file and the other apps' (the backup page's pair)
    names = [f"NV-2024-{i:04d}" for i in range(12)] + [f"nordvik.{n}" for n in ("maja", "oskar", "linnea", "emil")]
    result.append(("a backup holding the reader's invoices and users was written to $BACKUP_DIR first",
                   all(f">{name}<" in text for name in names), f"backups: {[b.name for b in backups]}"))
    return result


def _rollback(reader, before, after):
    applied = {tuple(k) for k in after["applied"]}
    result = [("accounts.0001_initial is applied", ("accounts", "0001_initial") in applied, ""),
              ("the later migration of accounts is unapplied",
               ("accounts", "0002_links_to_finflo_and_transaction") not in applied, "")]
    unapplied = sorted({tuple(k) for k in before["applied"]} - applied)
    result.append(("only accounts' later migrations are unapplied",
                   all(app == "accounts" for app, _ in unapplied), f"unapplied: {unapplied}"))
    # The task drops what the later migration created: the table userprocessauth and the column
    # Parties.base_currency (the page's plan says so). Every other value stays, at full precision.
    changed = _changed_tables(before, after, {"accounts_userprocessauth", "accounts_parties", "django_migrations"})
    result.append(("no other table's rows changed (full precision)", changed == [], f"changed: {changed}"))
    b, a = before["tables"]["accounts_parties"], after["tables"].get("accounts_parties", {"columns": [], "rows": []})
    kept = [c for c in b["columns"] if c in a["columns"]]
    project = lambda t: [[row[t["columns"].index(c)] for c in kept] for row in t["rows"]]  # noqa: E731
    result.append(("Parties lost the column base_currency (the task) and kept every row and other value",
                   set(b["columns"]) - set(kept) == {"base_currency_id"} and project(a) == project(b),
                   f"columns before {b['columns']}, after {a['columns']}"))
    backups = sorted(p.name for p in reader.backup_dir.iterdir() if p.stat().st_size) if reader.backup_dir else []
    result.append(("a backup was written to $BACKUP_DIR first", bool(backups), f"files: {backups}"))
    return result


def _new_work_model(reader, before, after):
    flowmodels = [r[after["tables"]["finflo_flowmodel"]["columns"].index("description")]
                  for r in _rows(after, "finflo_flowmodel")]
    result = [("finflo has one Flowmodel row for transaction.payment", flowmodels.count("transaction.payment") == 1,
               f"descriptions: {flowmodels}"), _all_applied(after)]
    kept = [r for r in _rows(before, "finflo_flowmodel") if r in _rows(after, "finflo_flowmodel")]
    result.append(("the existing Flowmodel rows are unchanged", kept == _rows(before, "finflo_flowmodel"), ""))
    # The page's backfill gives each existing payment its workflow: a manager, an item and an event.
    workflow_tables = {"finflo_transitionmanager", "finflo_workflowitems", "finflo_workevents"}
    changed = _changed_tables(before, after, {"finflo_flowmodel", "django_migrations", *workflow_tables})
    result.append(("no other table's rows changed (full precision)", changed == [], f"changed: {changed}"))
    kept_workflows = all(r in _rows(after, t) for t in workflow_tables for r in _rows(before, t))
    result.append(("the invoices' workflows are unchanged", kept_workflows, ""))
    added = sorted({tuple(k) for k in after["applied"]} - {tuple(k) for k in before["applied"]})
    result.append(("only the new migration was applied", len(added) == 1 and added[0][0] == "transaction"
                   and set(map(tuple, before["applied"])) <= set(map(tuple, after["applied"])), f"added: {added}"))
    probe = measure(reader, probe_payment=True)["probe_payment"]
    result.append(("a payment saved now gets its workflow", probe == 1, f"workflows of a new payment: {probe}"))
    # The task (issue 20): payments become a work model on a database that has payments, so each
    # existing payment needs its workflow too (the page's backfill step).
    tm = after["tables"]["finflo_transitionmanager"]
    followed = Counter((r[tm["columns"].index("type")], r[tm["columns"].index("t_id")]) for r in tm["rows"])
    payments = [r[0] for r in _rows(after, "transaction_payment")]
    without = [p for p in payments if not followed[("transaction.payment", p)]]
    result.append(("every existing payment has a workflow", not without,
                   f"{len(without)} of {len(payments)} payments have none"))
    twice = [p for p in payments if followed[("transaction.payment", p)] > 1]
    result.append(("no payment has more than one workflow", not twice, f"payments with several: {twice}"))
    return result


# Whether the scratch database the backup page makes beside the reader's (its name suffixed
# `_scratch`) is still there: printed 1 or 0, measured from the test's process.
SCRATCH_LEFT = r'''
import os, sys
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.db import connection
name = f"{connection.settings_dict['NAME']}_scratch"
if connection.vendor == "sqlite":
    print(int(os.path.exists(name)))
else:
    with connection.cursor() as cursor:
        cursor.execute({"postgresql": "SELECT count(*) FROM pg_database WHERE datname = %s",
                        "mysql": "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s"}[connection.vendor],
                       [name])
        print(int(cursor.fetchone()[0] > 0))
'''


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
    left = reader.test_python(code=SCRATCH_LEFT).strip()
    settings_left = (reader.project / "config/scratch_settings.py").exists()
    result.append(("the scratch database and its settings are gone", left == "0" and not settings_left,
                   f"scratch database left: {left == '1'}, config/scratch_settings.py left: {settings_left}"))
    return result


CRITERIA = {"circular-dependency": _circular, "reset-database": _reset, "rollback-migrations": _rollback,
            "new-work-model": _new_work_model, "backup-and-restore": _backup_and_restore}


# --- the tests -------------------------------------------------------------------------------------

def _run(slug: str, engine: str, tmp_path: Path, venv: Path, drop_last_procedure_step: bool):
    runbook = notebooks.find(slug)
    with reader_project(slug, engine, tmp_path, venv) as reader:
        before, around = measure(reader), surroundings(reader)
        follow(reader, runbook, engine, drop_last_procedure_step)
        after = measure(reader)
        outside = sorted(set(surroundings(reader).items()) ^ set(around.items()))
        results = criteria(slug, reader, before, after)
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


@pytest.mark.parametrize("slug", SLUGS)
def test_a_page_without_its_last_procedure_step_fails_its_criteria(slug, engine, tmp_path, reader_venv):
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
