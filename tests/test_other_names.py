"""Operator mode on a finflo project whose apps and models have other names than the sample's.

The project is the sample's shape under the names its own team chose: the user model and the parties
(`Counterparty`) in the app `people`, the work models (`Bill`, registered with finflo, and
`Remittance`, not yet) in the app `ledger`; its own data; under git. Each runbook's `runbook plan`
names the project's apps and models, never the sample's, and `runbook run` does the task on every
engine. The circular page's procedure for committed migrations runs on the project's migrations
deleted and made again (uncommitted), with the procedure and the apps `runbook doctor` names. A
`-p` naming an app, model or text the project does not have is refused before anything runs (exit
2, one line), nothing changed.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from runbook.paths import SAMPLE_PROJECT
from runbook.projectfiles import snapshot

from .conftest import require_server
from .test_operator import RUNBOOK, Operator, _never_committed, own_database

# The project's own words for the sample's (whole words, in code, migrations, paths and settings).
RENAMES = [("accounts", "people"), ("transaction", "ledger"), ("Invoice", "Bill"), ("invoice", "bill"),
           ("invoices", "bills"), ("Payment", "Remittance"), ("payment", "remittance"),
           ("payments", "remittances"), ("Parties", "Counterparty"), ("parties", "counterparty")]
# The sample's names a plan must not show. `transaction` is also Django's module (`from django.db
# import transaction`) and a mysqldump option (`--single-transaction`): only the app's uses count.
SAMPLE_NAMES = re.compile(r"\baccounts\b|\btransaction/|\btransaction\.(?!set_rollback\b|atomic\b)|['\"]transaction['\"]"
                          r"|\bInvoice\b|\bdue_on\b")
# The change the rollback undoes: the project's own, committed.
RECENT_FIELD = "reference = models.CharField(max_length=40, blank=True, default=\"\")"
RECENT_MIGRATION = "0002_remittance_reference"
# What a plan says with the project's names, where the procedure names an app or model at all.
PLAN_SAYS = {
    "rollback-migrations": [f"$ python manage.py sqlmigrate ledger {RECENT_MIGRATION} --backwards",
                            "$ python manage.py migrate ledger 0001_initial\n",
                            f"(a file edit: replace_in_file('ledger/models.py', old='    {RECENT_FIELD}\\n', new=''))"],
    "new-work-model": ["new='\"WORK_MODEL\": [\"ledger.Bill\", \"ledger.Remittance\"],'",
                       "$ python manage.py makemigrations ledger --empty --name register_remittance_work_model"],
    "circular-dependency": ["$ git restore --source=HEAD -- people/migrations ledger/migrations\n",
                            "$ git clean -n -- people/migrations ledger/migrations\n",
                            "$ python manage.py migrate --check && python manage.py showmigrations people ledger\n"],
}
PARAMETERS = {
    "backup-and-restore": [],
    "reset-database": ["--allow-destructive", "--yes"],
    "rollback-migrations": ["--allow-destructive", "--yes", "-p", "app=ledger", "-p", "target=0001_initial",
                            "-p", f"migration={RECENT_MIGRATION}", "-p", "models_file=ledger/models.py",
                            "-p", f"field_line={RECENT_FIELD}"],
    "new-work-model": ["-p", "work_app=ledger", "-p", "work_model=Remittance", "-p", "registered=ledger.Bill",
                       "-p", "latest_migration=0001_initial", "-p", "migration_number=0002",
                       "-p", "migration_name=register_remittance_work_model"],
    # The procedure for committed migrations, deleted and made again (uncommitted): what doctor prints.
    "circular-dependency": ["--procedure", "committed", "-p", "user_app=people", "-p", "other_app=ledger"],
}
# Data of the project's own: users, counterparties, bills (one by one: finflo's signal gives each its
# workflow), remittances.
SEED = """
from datetime import date
from decimal import Decimal
from people.models import Counterparty, User
from ledger.models import Bill, Currency, Remittance
users = [User.objects.create_user(f"clerk{i}", password="x") for i in range(5)]
chf = Currency.objects.create(code="CHF", name="Swiss Franc")
parties = [Counterparty.objects.create(name=f"Counterparty {i}", base_currency=chf) for i in range(4)]
for i in range(30):
    bill = Bill.objects.create(number=f"B-{i:04d}", party=parties[i % 4], created_by=users[i % 5], currency=chf,
                               amount=Decimal("10.05") * (i + 1), issued_on=date(2026, 1, 1 + i % 28))
    for k in range(i % 3):
        Remittance.objects.create(bill=bill, amount=Decimal("1.10") * (k + 1), paid_on=date(2026, 2, 1 + k))
print("seeded", Bill.objects.count(), "bills,", Remittance.objects.count(), "remittances")
"""


def make_other_names_project(root: Path, database_url: str) -> Operator:
    """The sample's code under the project's own names, its own data, committed to git."""
    op = Operator(root, database_url)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3", "finflo.log", "management", "sample_only.py")
    shutil.copytree(SAMPLE_PROJECT, op.path, ignore=ignore)
    for path in sorted(op.path.rglob("*"), key=lambda p: -len(p.parts)):  # deepest first: files, then folders
        if path.is_file() and path.suffix == ".py":
            path.write_text(_renamed(path.read_text()))
        if _renamed(path.name) != path.name:
            path.rename(path.with_name(_renamed(path.name)))
    op.git("init", "-q", "-b", "main")
    op.manage("makemigrations", "--noinput", "-v", "0")  # the index names Django derives from the new table names
    op.manage("migrate", "-v", "0")
    assert "seeded 30 bills, 30 remittances" in op.manage("shell", "-c", SEED)
    op.git("add", "-A")
    _commit(op, "our finflo project")
    return op


def _renamed(text: str) -> str:
    for old, new in RENAMES:
        text = re.sub(rf"\b{old}\b", new, text)
    return text.replace("class AccountsConfig", "class PeopleConfig").replace("class TransactionConfig", "class LedgerConfig")


def _commit(op: Operator, message: str) -> None:
    op.git("-c", "user.name=op", "-c", "user.email=op@localhost", "commit", "-qm", message)


def _add_recent_field(op: Operator) -> None:
    """The change the rollback undoes: a field on Remittance, its migration made, applied, used, committed."""
    models = op.path / "ledger/models.py"
    anchor = "    paid_on = models.DateField()\n"
    assert models.read_text().count(anchor) == 1
    models.write_text(models.read_text().replace(anchor, anchor + f"    {RECENT_FIELD}\n"))
    op.manage("makemigrations", "ledger", "--name", "remittance_reference", "-v", "0")
    assert (op.path / f"ledger/migrations/{RECENT_MIGRATION}.py").is_file()
    op.manage("migrate", "-v", "0")
    op.manage("shell", "-c", "from ledger.models import Remittance; Remittance.objects.update(reference='R-1')")
    op.git("add", "-A")
    _commit(op, "remittances have a reference")


# Every engine (MariaDB's five runs took 159 s on the 2-core machine). `engine` here is this module's own
# fixture: the project's database is its own, not the runbooks' throwaway one.
@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def engine(request) -> str:
    require_server(request.param)
    return request.param


@pytest.fixture
def other(engine, tmp_path):
    root = tmp_path / "work"
    root.mkdir()
    with own_database(engine, root, tmp_path, "othernames") as url:
        yield make_other_names_project(root, url)


def _sample_names(text: str) -> list[str]:
    return sorted({m.group(0) for m in SAMPLE_NAMES.finditer(text)})


@pytest.mark.parametrize("slug", list(PARAMETERS))
def test_plan_and_run_with_the_projects_own_names(other, slug, engine):
    op = other
    if slug == "rollback-migrations":
        _add_recent_field(op)
    committed = snapshot(op.path)
    if slug == "circular-dependency":
        _regenerate(op)
    files, db = snapshot(op.path), op.fingerprint()
    base = [slug, "--project", str(op.path), "--database-url", op.database_url, "--backup-dir", str(op.backups)]
    plan = op.runbook("plan", *[a for a in base if a != "--backup-dir" and a != str(op.backups)],
                      *[a for a in PARAMETERS[slug] if a not in ("--allow-destructive", "--yes")])
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert plan.stdout.rstrip().endswith("All preconditions hold.")
    steps = plan.stdout.split("\nSteps (", 1)[1].split("\nDjango's plan", 1)[0]
    assert _sample_names(steps) == [], steps
    for text in PLAN_SAYS.get(slug, []):
        assert text in steps, steps
    assert snapshot(op.path) == files and op.fingerprint() == db  # a plan changes nothing

    result = op.runbook("run", *base, *PARAMETERS[slug], "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1].removeprefix("audit folder: "))
    record = json.loads((run_dir / "record.json").read_text())
    ran = [c["id"] for c in record["cells"] if c["outcome"] in ("passed", "expected-failure")]
    assert _sample_names("\n".join(cmd for c in record["cells"] if c["id"] in ran for cmd in c["commands"])) == []
    if slug == "circular-dependency":
        _restored(op, db, committed)
    else:
        TASK_DONE[slug](op, db, run_dir)


def _backup_taken(op: Operator, before: dict, run_dir: Path) -> None:
    assert op.fingerprint() == before, "the backup changed the project's database"
    other_apps = (run_dir / "other-apps.xml").read_text()
    assert 'model="people.user"' in other_apps and 'model="ledger.bill"' in other_apps
    assert other_apps.count('model="ledger.remittance"') == before["ledger_remittance"]["rows"]


def _reset_done(op: Operator, before: dict, run_dir: Path) -> None:
    after = op.fingerprint()
    assert before["ledger_bill"]["rows"] == 30 and after["ledger_bill"]["rows"] == 0
    assert after["people_user"]["rows"] == 0 and after["finflo_signlist"]["rows"] > 0
    op.manage("migrate", "--check")


def _rolled_back(op: Operator, before: dict, run_dir: Path) -> None:
    assert not (op.path / f"ledger/migrations/{RECENT_MIGRATION}.py").exists()
    assert RECENT_FIELD not in (op.path / "ledger/models.py").read_text()
    assert f"[ ] {RECENT_MIGRATION}" not in op.manage("showmigrations", "ledger")
    op.manage("migrate", "--check")
    columns = op.manage("shell", "-c", "from django.db import connection as c; print([d.name for d in "
                        "c.introspection.get_table_description(c.cursor(), 'ledger_remittance')])")
    assert "'reference'" not in columns and "'paid_on'" in columns
    assert op.fingerprint()["ledger_remittance"]["rows"] == before["ledger_remittance"]["rows"]


def _registered(op: Operator, before: dict, run_dir: Path) -> None:
    settings = (op.path / "config/settings.py").read_text()
    assert '"WORK_MODEL": ["ledger.Bill", "ledger.Remittance"],' in settings
    migration = (op.path / "ledger/migrations/0002_register_remittance_work_model.py").read_text()
    assert _sample_names(migration) == [] and "('ledger', '0001_initial')" in migration
    counts = op.manage("shell", "-v", "0", "-c", "from finflo.models import Flowmodel, TransitionManager; "
                       "from ledger.models import Remittance; print(Flowmodel.objects.filter(description='ledger.remittance')"
                       ".count(), TransitionManager.objects.filter(type='ledger.remittance').count(), Remittance.objects.count())")
    assert counts.split() == ["1", "30", "30"]


def _regenerate(op: Operator) -> None:
    """Both apps' migrations deleted and made again in one call, not committed: the cycle with finflo, a
    second migration of `ledger` that git never had. doctor names the procedure and the apps."""
    for app in ("people", "ledger"):
        shutil.rmtree(op.path / app / "migrations")
    op.manage("makemigrations", "people", "ledger", "-v", "0")
    assert "?? ledger/migrations/0002_initial.py" in op.git("status", "--porcelain", "--untracked-files=all")
    doctor = subprocess.run([*RUNBOOK, "doctor", "--project", str(op.path), "--database-url", op.database_url],
                            capture_output=True, text=True, timeout=600)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert (f"plan:     runbook plan circular-dependency --project {op.path} --database-url {op.database_url} "
            f"{' '.join(PARAMETERS['circular-dependency'])}\n") in doctor.stdout, doctor.stdout


def _restored(op: Operator, before: dict, committed: dict) -> None:
    assert snapshot(op.path) == committed  # the committed files back, the regenerated ones gone, nothing else
    assert op.git("status", "--porcelain", "--untracked-files=all") == ""
    op.manage("migrate", "--check")
    assert op.fingerprint() == before


TASK_DONE = {"backup-and-restore": _backup_taken, "reset-database": _reset_done,
             "rollback-migrations": _rolled_back, "new-work-model": _registered}


WRONG = [
    ("rollback-migrations", ["-p", "app=ledgr"], "needs the apps finflo, ledgr; this project lacks ledgr (check -p app)"),
    ("rollback-migrations", ["-p", "migration=0009_nothing"],
     "needs the migrations ledger.0001_initial, ledger.0009_nothing; this project lacks ledger.0009_nothing (check -p app, -p migration)"),
    ("rollback-migrations", ["-p", "field_line=refrence = models.CharField()"],
     "step 'remove-field' edits ledger/models.py: the text '    refrence = models.CharField()\\n' is there 0 times, "
     "not once (check -p models_file, -p field_line)"),
    ("new-work-model", ["-p", "work_model=Refund"],
     "needs the models ledger.Refund; this project does not have it (check -p work_app, -p work_model)"),
    ("new-work-model", ["-p", "registered=ledger.Invoice"],
     "step 'add-work-model' edits config/settings.py: the text '\"WORK_MODEL\": [\"ledger.Invoice\"],' is there 0 "
     "times, not once (check -p registered)"),
]


@pytest.mark.parametrize("slug, wrong, message", WRONG)
def test_a_wrong_name_is_refused_before_anything_runs(tmp_path, slug, wrong, message):
    root = tmp_path / "work"
    root.mkdir()
    op = make_other_names_project(root, f"sqlite:///{root / 'own.sqlite3'}")
    if slug == "rollback-migrations":
        _add_recent_field(op)
    files, db = snapshot(op.path), op.fingerprint()
    given = PARAMETERS[slug] + wrong  # a later -p wins
    result = op.runbook("run", slug, "--project", str(op.path), "--database-url", op.database_url,
                        "--backup-dir", str(op.backups), *given)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: runbook {slug!r} ") and message in result.stderr, result.stderr
    assert result.stderr.endswith("; nothing was changed\n")
    assert snapshot(op.path) == files and op.fingerprint() == db and not op.backups.exists()


def test_an_app_whose_migrations_live_elsewhere_is_refused_before_anything_runs(tmp_path):
    """The procedures' commands name `<app>/migrations` from the project folder; an app whose migrations
    `MIGRATION_MODULES` puts elsewhere is refused by name, before the backup or any edit."""
    root = tmp_path / "work"
    root.mkdir()
    op = make_other_names_project(root, f"sqlite:///{root / 'own.sqlite3'}")
    _add_recent_field(op)
    (op.path / "ledger/migrations").rename(op.path / "ledger/schema")
    settings = op.path / "config/settings.py"
    assert settings.read_text().count('MIGRATION_MODULES = {"finflo": "finflo_migrations"}') == 1
    settings.write_text(settings.read_text().replace(
        'MIGRATION_MODULES = {"finflo": "finflo_migrations"}',
        'MIGRATION_MODULES = {"finflo": "finflo_migrations", "ledger": "ledger.schema"}'))
    op.git("add", "-A")
    _commit(op, "ledger's migrations in ledger/schema")
    op.manage("migrate", "--check")  # the project itself is healthy
    files, db = snapshot(op.path), op.fingerprint()
    result = op.runbook("run", "rollback-migrations", "--project", str(op.path), "--database-url",
                        op.database_url, "--backup-dir", str(op.backups), *PARAMETERS["rollback-migrations"])
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert ("needs the migrations folders ledger/migrations; this project does not have it (the procedure's "
            "commands name <app>/migrations from the project folder; check -p app)") in result.stderr, result.stderr
    assert snapshot(op.path) == files and op.fingerprint() == db and not op.backups.exists()


def test_the_never_committed_procedure_refuses_migrations_made_in_another_shape(tmp_path):
    """The never-committed procedure follows the files `makemigrations` writes for the sample's models
    (the user app's 0001 and 0002, the other app's 0001). Under this project's names Django breaks the
    cycle the other way round (people's 0001, ledger's 0001 and 0002): `runbook run` refuses by name,
    before it edits the settings or writes finflo's files (the run without this need stopped at its
    seventh step, with the settings edited and finflo_migrations/ written)."""
    root = tmp_path / "work"
    root.mkdir()
    op = make_other_names_project(root, f"sqlite:///{root / 'own.sqlite3'}")
    _never_committed(op, ("people", "ledger"))
    assert sorted(p.name for p in (op.path / "ledger/migrations").glob("0*.py")) == ["0001_initial.py", "0002_initial.py"]
    files, db = snapshot(op.path), op.fingerprint()
    result = op.runbook("run", "circular-dependency", "--project", str(op.path), "--database-url", op.database_url,
                        "--backup-dir", str(op.backups), "--procedure", "never-committed", "-p", "user_app=people",
                        "-p", "other_app=ledger", "--allow-destructive", "--yes")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert ("needs the migrations people.0001_initial, people.0002_initial, ledger.0001_initial; this project lacks "
            "people.0002_initial (check -p user_app; procedure 'never-committed', for when they were never committed "
            "(makes them again") in result.stderr, result.stderr
    assert snapshot(op.path) == files and op.fingerprint() == db and not op.backups.exists()
