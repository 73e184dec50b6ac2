"""runbook.backup: where backups go, how they are compared, and a real verified backup on SQLite."""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import sys
from pathlib import Path

import pytest

from runbook import backup, notebooks
from runbook.databases import Database
from runbook.errors import BadInput
from runbook.executor import copy_sample_project


def test_the_backup_commands_are_the_runbooks_dumpdata_finflo_first():
    assert backup.files(Path("/b/x")) == [Path("/b/x/finflo.xml"), Path("/b/x/other-apps.xml")]
    assert backup.dumpdata_args(Path("/b/x")) == [
        ["dumpdata", "finflo", "--format", "xml", "--natural-foreign", "-o", "/b/x/finflo.xml"],
        ["dumpdata", "--format", "xml", "--natural-foreign", "-e", "finflo", "-e", "contenttypes", "-e",
         "auth.Permission", "-e", "sessions", "-o", "/b/x/other-apps.xml"]]
    page = next(c for c in notebooks.find("backup-and-restore").cells if c.id == "dumpdata-backup")
    shown = [line.removeprefix("!") for line in page.source.splitlines()]
    assert shown == [f"python manage.py {' '.join(args[:-2])} --indent 2 -o \"$BACKUP_DIR/{Path(args[-1]).name}\""
                     for args in backup.dumpdata_args(Path("X"))]
    restore = next(c for c in notebooks.find("backup-and-restore").cells if c.id == "loaddata-backup")
    assert restore.source == "!python manage.py loaddata --settings=config.scratch_settings " + " ".join(
        f'"$BACKUP_DIR/{f.name}"' for f in backup.files(Path("X")))


def test_the_restore_command_loads_finflo_first_in_one_call_and_quotes_the_paths():
    assert backup.restore_command(Path("/my backups/x")) == (
        "python manage.py migrate && python manage.py loaddata '/my backups/x/finflo.xml' '/my backups/x/other-apps.xml'")
    taken = backup.Backup(Path("/b/x"), {}, "")
    assert taken.restore_command == ("python manage.py migrate && python manage.py loaddata /b/x/finflo.xml "
                                     "/b/x/other-apps.xml")
    assert taken.checks == []


def test_the_backup_folder_is_outside_the_project(tmp_path):
    project = tmp_path / "own"
    project.mkdir()
    for inside in (project, project / "backups", project / "a" / "b"):
        with pytest.raises(BadInput) as raised:
            backup.check_folder(inside, project)
        assert str(raised.value) == f"--backup-dir {inside} is inside the project {project}: backups go outside it"
    # Compared resolved: a relative or dotted path into the project is inside too.
    with pytest.raises(BadInput, match="is inside the project"):
        backup.check_folder(project / ".." / "own" / "b", project / "." )
    assert backup.check_folder(tmp_path / "backups" / "new", project) == tmp_path / "backups" / "new"
    assert backup.check_folder(tmp_path / "own-backups", project) == tmp_path / "own-backups"
    assert not (tmp_path / "backups").exists()  # checked, not made


def test_the_backup_folder_expands_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert backup.check_folder(Path("~/backups"), tmp_path / "own") == tmp_path / "backups"


def test_a_backup_folder_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(BadInput) as raised:
        backup.check_folder(tmp_path / "file" / "backups", tmp_path / "own")
    assert str(raised.value) == f"--backup-dir {tmp_path / 'file' / 'backups'}: {tmp_path / 'file'} is not a folder"


def test_a_read_only_backup_folder_is_refused(tmp_path, monkeypatch):
    asked = []
    # Root (as here) may write anywhere: the permission check itself answers no.
    monkeypatch.setattr(os, "access", lambda path, mode: asked.append((path, mode)) and False)
    with pytest.raises(BadInput) as raised:
        backup.check_folder(tmp_path / "b" / "c", tmp_path / "own")
    assert str(raised.value) == f"--backup-dir {tmp_path / 'b' / 'c'} is not writable"
    assert asked == [(tmp_path, os.W_OK | os.X_OK)]  # the nearest folder that exists


def test_backup_folders_are_named_after_the_project_and_never_overwritten(tmp_path):
    first = backup.backup_folder(tmp_path, Path("/x/own"))
    assert re.fullmatch(r"own-\d{8}T\d{6}Z", first.name) and first.parent == tmp_path
    assert not first.exists()  # named, not made


def frozen_clock(monkeypatch) -> None:
    import datetime as real

    class Frozen(real.datetime):
        @classmethod
        def now(cls, tz=None):
            return real.datetime(2026, 1, 2, 3, 4, 5, tzinfo=tz)

    monkeypatch.setattr(backup, "datetime", Frozen)


def test_backup_names_are_in_utc_whatever_the_machines_zone(tmp_path, monkeypatch):
    import time
    from datetime import datetime, timedelta, timezone

    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: never the same hour as UTC
    time.tzset()
    try:
        before = datetime.now(timezone.utc).replace(microsecond=0)
        stamp = backup.backup_folder(tmp_path, Path("/x/own")).name.removeprefix("own-")
        after = datetime.now(timezone.utc)
    finally:
        monkeypatch.undo()
        time.tzset()
    taken = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    assert before <= taken <= after + timedelta(seconds=1), stamp


def test_two_backups_in_one_second(tmp_path, monkeypatch):
    frozen_clock(monkeypatch)
    names = []
    for _ in range(3):
        path = backup.backup_folder(tmp_path, Path("/x/own"))
        path.mkdir()
        names.append(path.name)
    assert names == ["own-20260102T030405Z", "own-20260102T030405Z-2", "own-20260102T030405Z-3"]


def test_row_counts_are_compared_table_by_table():
    before = {"a": 1, "b": 2, "gone": 3, "django_migrations": 9, "django_session": 4, "auth_permission": 1,
              "django_content_type": 1}
    after = {"a": 1, "b": 5, "new": 1, "django_migrations": 2}
    assert backup.compare_rows(before, after) == [
        "table b: 2 rows in the database, 5 after the restore",
        "table gone: 3 rows in the database, no table after the restore",
        "table new: no table rows in the database, 1 after the restore",
    ]
    assert backup.compare_rows({"a": 0}, {"a": 0}) == []


def test_values_are_compared_where_the_counts_agree():
    fp = lambda rows, sha: {"rows": rows, "sha256": sha}  # noqa: E731
    before = {"a": fp(1, "x"), "b": fp(2, "y"), "c": fp(3, "z"), "gone": fp(1, "g"), "auth_permission": fp(4, "p"),
              "django_content_type": fp(2, "t"), "django_migrations": fp(9, "m"), "django_session": fp(1, "s")}
    after = {"a": fp(1, "x"), "b": fp(2, "Y"), "c": fp(4, "Z"), "new": fp(1, "n"), "auth_permission": fp(4, "P"),
             "django_content_type": fp(2, "T"), "django_migrations": fp(9, "M"), "django_session": fp(1, "S")}
    # c's count differs (compare_rows says so); Django's own tables are not taken from the backup.
    assert backup.compare_values(before, after) == ["table b: values differ after the restore"]
    assert backup.compare_values(before, before) == []


def test_the_scratch_database_is_made_through_the_servers_maintenance_database():
    assert backup._maintenance(Database("postgres://me:pw@db:5433/prod")).url == "postgres://me:pw@db:5433/postgres"
    assert backup._maintenance(Database("mysql://root@db/prod")).url == "mysql://root@db/"


def test_a_failing_command_is_named_with_its_last_line(tmp_path):
    script = "import sys; print('out'); print('first', file=sys.stderr); print('last', file=sys.stderr); sys.exit(3)"
    with pytest.raises(backup.BackupNotVerified) as raised:
        backup._run(tmp_path, "sqlite:///x", [sys.executable, "-c", script])
    assert str(raised.value) == f"`python -c {script}` failed (exit 3): last"
    with pytest.raises(backup.BackupNotVerified) as raised:
        backup._run(tmp_path, "sqlite:///x", [sys.executable, "-c", "import sys; print('only out'); sys.exit(1)"])
    assert str(raised.value).endswith("failed (exit 1): only out")
    with pytest.raises(backup.BackupNotVerified) as raised:
        backup._run(tmp_path, "sqlite:///x", [sys.executable, "-c", "raise SystemExit(2)"])
    assert str(raised.value).endswith("failed (exit 2): ")


@contextlib.contextmanager
def stdin_is_a_pipe():
    """Standard input of this process is a pipe, so that a child that inherits it does not get /dev/null."""
    read, write = os.pipe()
    saved = os.dup(0)
    os.dup2(read, 0)
    try:
        yield
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read, write):
            os.close(fd)


def test_commands_get_the_database_and_no_input(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    script = ("import os; print(os.environ['DATABASE_URL'], os.environ.get('PYTHONDONTWRITEBYTECODE'), "
              "os.path.samestat(os.fstat(0), os.stat(os.devnull)), os.getcwd())")
    with stdin_is_a_pipe():
        out = backup._run(tmp_path, "sqlite:///given", [sys.executable, "-c", script])
    assert out == f"sqlite:///given 1 True {tmp_path}\n"


def test_a_command_that_hangs_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(backup, "COMMAND_TIMEOUT", 0.5)
    with pytest.raises(backup.BackupNotVerified) as raised:
        backup._run(tmp_path, "sqlite:///x", [sys.executable, "-c", "import time; time.sleep(30)"])
    assert str(raised.value) == "`python -c import time; time.sleep(30)` took more than 0.5s"


# -- a real backup of a real SQLite database ----------------------------------------------------

@pytest.fixture
def own(tmp_path):
    project = copy_sample_project(tmp_path / "own")
    url = f"sqlite:///{tmp_path / 'own.sqlite3'}"
    backup.manage(project, url, "migrate", "--noinput", "-v", "0")
    return project, Database(url)


def test_a_verified_backup_restores_every_value_and_a_lost_row_or_microsecond_is_caught(own, tmp_path, monkeypatch):
    # One test, so that the project is migrated once: this is the slowest unit test.
    project, database = own
    backup.manage(project, database.url, "shell", "-c", SUB_MILLISECOND_USER)
    taken = backup.take_verified(project, database, tmp_path / "backups" / "new", tmp_path / "work", "probe")
    assert taken.path.parent == tmp_path / "backups" / "new" and taken.path.name.startswith("own-")
    first, rest = backup.files(taken.path)
    assert taken.sha256 == hashlib.sha256(first.read_bytes() + rest.read_bytes()).hexdigest()
    assert all(f.read_text().startswith('<?xml version="1.0" encoding="utf-8"?>\n<django-objects') for f in (first, rest))
    assert 'model="finflo.transitionmanager"' not in rest.read_text()
    assert {m.split(".")[0] for m in re.findall(r'model="([\w.]+)"', first.read_text())} == {"finflo"}
    assert taken.rows == {t: v["rows"] for t, v in backup.fingerprint(project, database.url).items()}
    assert taken.rows["finflo_signlist"] == 4  # seeded by finflo's migrations
    data_tables = [t for t in taken.rows if t not in backup.NOT_IN_BACKUP]
    assert taken.checks == [
        f"{len(data_tables)} tables, {sum(taken.rows[t] for t in data_tables)} rows: same counts after a restore",
        f"every value of the {len(data_tables)} tables equal after a restore, at full precision "
        f"(backup sha256 {taken.sha256[:12]})",
    ]
    assert "django_migrations" in taken.rows and "django_migrations" not in data_tables
    assert (tmp_path / "work" / f"verify-{taken.path.name}").is_dir()  # the scratch copy is in the run's work folder

    with sqlite3.connect("/" + database.name.lstrip("/")) as conn:  # a table no migration makes
        conn.execute("CREATE TABLE stray (id INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO stray VALUES (1)")
    with pytest.raises(backup.BackupNotVerified) as raised:
        backup.take_verified(project, database, tmp_path / "backups", tmp_path / "work", "probe")
    assert re.fullmatch(r"restoring the backup \S+/own-\d{8}T\d{6}Z(-2)? does not give back the same data: "
                        r"table stray: 1 rows in the database, no table after the restore", str(raised.value)), str(raised.value)

    with sqlite3.connect("/" + database.name.lstrip("/")) as conn:
        conn.execute("DROP TABLE stray")
    # dumpdata's default format: the user's microseconds are cut to the millisecond, and that is caught.
    monkeypatch.setattr(backup, "FORMAT", "json")
    with pytest.raises(backup.BackupNotVerified) as raised:
        backup.take_verified(project, database, tmp_path / "backups", tmp_path / "work", "probe")
    assert re.fullmatch(r"restoring the backup \S+/own-\d{8}T\d{6}Z(-\d)? does not give back the same data: "
                        r"table accounts_user: values differ after the restore", str(raised.value)), str(raised.value)


def test_work_model_rows_dumped_before_finflos_get_no_second_workflow_on_restore(tmp_path):
    """A project that lists its apps before finflo, with a work model that refers to nothing with a
    natural key (so dumpdata's dependency sort leaves it there): a single dump would load the
    payments before their workflows, and finflo's signal would give the payment after the gap a
    second one. The backup loads finflo's file first: same counts, same values."""
    project = copy_sample_project(tmp_path / "own")
    settings = project / "config" / "settings.py"
    text = settings.read_text()
    for old, new in [('    "finflo",\n    "accounts",\n    "transaction",\n', '    "accounts",\n    "transaction",\n    "finflo",\n'),
                     ('"WORK_MODEL": ["transaction.Invoice"]', '"WORK_MODEL": ["transaction.Invoice", "transaction.Payment"]')]:
        assert text.count(old) == 1
        text = text.replace(old, new)
    settings.write_text(text)
    database = Database(f"sqlite:///{tmp_path / 'own.sqlite3'}")
    backup.manage(project, database.url, "migrate", "--noinput", "-v", "0")
    backup.manage(project, database.url, "shell", "-c", PAYMENTS_WITH_A_GAP)
    single = tmp_path / "single.xml"  # the counter-run: one dump, in the order the project gives it
    backup.manage(project, database.url, "dumpdata", "--format", "xml", "--natural-foreign", "-e", "contenttypes",
                  "-e", "auth.Permission", "-e", "sessions", "-o", str(single))
    models = re.findall(r'model="([\w.]+)"', single.read_text())
    assert models.index("transaction.payment") < models.index("finflo.transitionmanager")
    scratch = Database(f"sqlite:///{tmp_path / 'scratch.sqlite3'}")
    backup.manage(project, scratch.url, "migrate", "--noinput", "-v", "0")
    backup.manage(project, scratch.url, "loaddata", str(single))
    rows = lambda url: {t: v["rows"] for t, v in backup.fingerprint(project, url).items()}  # noqa: E731
    assert rows(scratch.url)["finflo_transitionmanager"] == rows(database.url)["finflo_transitionmanager"] + 1

    taken = backup.take_verified(project, database, tmp_path / "backups", tmp_path / "work", "probe")
    assert taken.rows["finflo_transitionmanager"] == 3  # 1 invoice, 2 payments: one workflow each


# One invoice and three payments, the first deleted (finflo's post_delete deletes its workflow): the
# workflows' ids are 1 (the invoice's), 3 and 4. Loaded payments first, the signal gives the two payments
# workflows 1 and 2; the file's workflow 1 (the invoice's) replaces the first, the second stays.
PAYMENTS_WITH_A_GAP = (
    "from accounts.models import Parties; from transaction.models import Currency, Invoice, Payment; "
    "eur = Currency.objects.create(code='EUR', name='Euro'); party = Parties.objects.create(name='P'); "
    "invoice = Invoice.objects.create(number='I1', party=party, currency=eur, amount='1.00', issued_on='2026-01-01'); "
    "payments = [Payment.objects.create(invoice=invoice, amount='1.00', paid_on='2026-01-02') for _ in range(3)]; "
    "payments[0].delete()")


SUB_MILLISECOND_USER = ("import datetime as dt; from accounts.models import User; "
                        "User.objects.create_user('micro', date_joined=dt.datetime(2026, 1, 2, 3, 4, 5, 123456, dt.timezone.utc))")


def test_a_backup_folder_that_cannot_be_made_is_not_verified(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(backup.BackupNotVerified) as raised:
        backup.take_verified(tmp_path, Database("sqlite:////nowhere/x"), tmp_path / "file" / "b", tmp_path, "probe")
    assert str(raised.value) == f"cannot make the backup folder {tmp_path / 'file' / 'b'}: Not a directory"


def test_a_server_backup_is_verified_on_the_operators_own_server(tmp_path, monkeypatch):
    """On PostgreSQL or MariaDB the scratch copy is made on the operator's server, through its
    maintenance database, never on the runner's default server. (The commands and the server
    stand in here; tests/test_roundtrip.py runs the real thing on every engine.)"""
    import contextlib

    from runbook import databases

    asked = []
    monkeypatch.setattr(backup, "fingerprint", lambda project, url: {"t": {"rows": 1, "sha256": ""}})
    monkeypatch.setattr(backup, "manage", lambda project, url, *args: Path(args[-1]).write_text("[]"))

    @contextlib.contextmanager
    def refusing(engine, folder, label, server=None):
        asked.append((engine, folder, label, server))
        raise BadInput("permission denied to create database")
        yield

    monkeypatch.setattr(databases, "scratch_database", refusing)
    frozen_clock(monkeypatch)
    (tmp_path / "work" / "verify-own-20260102T030405Z").mkdir(parents=True)  # left by an earlier run: reused
    for url, maintenance in [("postgres://me@db.internal:5433/prod", "postgres://me@db.internal:5433/postgres"),
                             ("mysql://me@db.internal/prod", "mysql://me@db.internal/")]:
        with pytest.raises(backup.BackupNotVerified) as raised:
            backup.take_verified(tmp_path / "own", Database(url), tmp_path / "backups", tmp_path / "work", "probe")
        assert str(raised.value) == "no scratch database to verify the backup in: permission denied to create database"
        engine, folder, label, server = asked.pop()
        assert (engine, label, server) == (Database(url).engine, "probe_backup", Database(maintenance))
        assert folder.parent == tmp_path / "work" and folder.name.startswith("verify-own-") and folder.is_dir()


def test_a_restore_whose_values_differ_is_not_verified(tmp_path, monkeypatch):
    """The comparison itself (the commands and the scratch database stand in): a restored copy whose
    values differ, and one whose rows differ too, are named with every problem."""
    import contextlib as cl

    from runbook import databases

    scratch = Database(f"sqlite:///{tmp_path}/scratch.sqlite3")
    tables = {"operator": {"t": {"rows": 2, "sha256": "a"}, "u": {"rows": 1, "sha256": "b"}},
              "scratch": {"t": {"rows": 2, "sha256": "A"}, "u": {"rows": 1, "sha256": "b"}}}

    def fake_manage(project, url, *args):
        if args[0] == "dumpdata":
            Path(args[-1]).write_text("<django-objects/>")

    @cl.contextmanager
    def fake_scratch(engine, folder, label, server=None):
        yield scratch

    monkeypatch.setattr(backup, "manage", fake_manage)
    monkeypatch.setattr(backup, "fingerprint", lambda project, url: tables["scratch" if url == scratch.url else "operator"])
    monkeypatch.setattr(databases, "scratch_database", fake_scratch)
    with pytest.raises(backup.BackupNotVerified) as raised:
        backup.take_verified(tmp_path / "own", Database("sqlite:////own.sqlite3"), tmp_path / "b", tmp_path / "w", "probe")
    path = next((tmp_path / "b").iterdir())
    assert str(raised.value) == (f"restoring the backup {path} does not give back the same data: "
                                 "table t: values differ after the restore")
    tables["scratch"]["u"] = {"rows": 3, "sha256": "c"}
    with pytest.raises(backup.BackupNotVerified) as raised:
        backup.take_verified(tmp_path / "own", Database("sqlite:////own.sqlite3"), tmp_path / "b2", tmp_path / "w", "probe")
    assert str(raised.value).endswith(": table u: 1 rows in the database, 3 after the restore; "
                                      "table t: values differ after the restore")
