"""runbook.guards: what refuses a run that could destroy data, and when the backup is taken."""
from __future__ import annotations

from pathlib import Path

import pytest

from runbook import backup, guards
from runbook.databases import Database, DropFailed
from runbook.errors import BadInput, RunbookFailed

from ..notebook_builder import cell


def test_a_runbook_is_destructive_by_its_flag_or_by_one_cell(make_runbook):
    assert guards.is_destructive(make_runbook([cell("a", "!true")], destructive=True))
    assert guards.is_destructive(make_runbook([cell("a", "!true"), cell("b", "!true", destructive=True)]))
    assert not guards.is_destructive(make_runbook([cell("a", "!true")]))


def test_the_backup_goes_before_the_first_marked_cell(make_runbook):
    rb = make_runbook([cell("a", "!true"), cell("b", "!true", destructive=True), cell("c", "!true", destructive=True)])
    assert guards.first_destructive_cell(rb).id == "b"
    rb = make_runbook([cell("a", "!true"), cell("b", "!true", destructive=True)], destructive=True)
    assert guards.first_destructive_cell(rb).id == "b"


def test_a_destructive_runbook_without_marks_is_backed_up_before_its_first_command(make_runbook):
    rb = make_runbook([cell("python", "x = 1"), cell("first", "!true"), cell("second", "!true")], destructive=True)
    assert guards.first_destructive_cell(rb).id == "first"
    # The parameters cell is not a command, even with a `!` line.
    rb = make_runbook([cell("later", "!true")], destructive=True, parameters="!echo not-a-command\n")
    assert guards.first_destructive_cell(rb).id == "later"


def test_a_harmless_runbook_has_no_destructive_cell(make_runbook):
    assert guards.first_destructive_cell(make_runbook([cell("a", "!true")])) is None


def test_a_destructive_runbook_without_commands_has_no_cell_to_back_up_before(make_runbook):
    assert guards.first_destructive_cell(make_runbook([cell("python", "x = 1")], destructive=True)) is None


def check(rb, **overrides):
    args = dict(project=None, database_url=None, allow_destructive=False, allow_remote=False, backup_dir=None)
    args.update(overrides)
    guards.check_run(rb, **args)


def test_a_destructive_runbook_on_the_sample_project_needs_no_flag(make_runbook, tmp_path):
    check(make_runbook([cell("a", "!true")], destructive=True))
    check(make_runbook([cell("a", "!true")]), project=tmp_path / "own")


def test_a_destructive_runbook_on_an_own_project_needs_allow_destructive(make_runbook, tmp_path):
    rb = make_runbook([cell("a", "!true", destructive=True)])
    with pytest.raises(BadInput) as raised:
        check(rb, project=tmp_path / "own", database_url="sqlite:////tmp/x.sqlite3", allow_remote=True)
    assert str(raised.value) == ("runbook 'probe' deletes data or migrations; against your own project it runs "
                                 "only with --allow-destructive")


def test_a_remote_database_needs_allow_remote_database(make_runbook, tmp_path):
    rb = make_runbook([cell("a", "!true")], destructive=True)
    with pytest.raises(BadInput) as raised:
        check(rb, project=tmp_path / "own", database_url="postgres://me@db.example.com/prod", allow_destructive=True,
              backup_dir=tmp_path / "backups")
    assert str(raised.value) == ("runbook 'probe' deletes data, and the database is on another host (db.example.com); "
                                 "to run it there anyway, add --allow-remote-database")
    check(rb, project=tmp_path / "own", database_url="postgres://me@db.example.com/prod", allow_destructive=True,
          allow_remote=True, backup_dir=tmp_path / "backups")
    check(rb, project=tmp_path / "own", database_url="postgres://me@localhost/prod", allow_destructive=True,
          backup_dir=tmp_path / "backups")


def test_the_backup_folder_is_checked_last(make_runbook, tmp_path):
    rb = make_runbook([cell("a", "!true")], destructive=True)
    inside = tmp_path / "own" / "backups"
    with pytest.raises(BadInput, match=r"^--backup-dir .* is inside the project"):
        check(rb, project=tmp_path / "own", allow_destructive=True, backup_dir=inside)
    # Without --backup-dir, the default folder is the one checked.
    home_project = Path.home() / ".runbook"
    with pytest.raises(BadInput, match=r"^--backup-dir .* is inside the project"):
        check(rb, project=home_project, allow_destructive=True)


def test_a_malformed_url_is_refused_even_for_a_harmless_runbook(make_runbook):
    with pytest.raises(BadInput, match="the port is not a number"):
        check(make_runbook([cell("a", "!true")]), database_url="postgres://me@localhost:port/db")


@pytest.mark.parametrize("url, message", [
    ("postgres://me@localhost:x/db", "malformed database URL: the port is not a number (in postgres://me@localhost:x/db)"),
    ("sqlite://", "malformed database URL sqlite://: no SQLite file, e.g. sqlite:////abs/path/db.sqlite3"),
    ("sqlite:///", "malformed database URL sqlite:///: no SQLite file, e.g. sqlite:////abs/path/db.sqlite3"),
    ("postgres://me@localhost", "malformed database URL postgres://me@localhost: no database name after the host, "
                                "e.g. postgres://user@localhost/mydb"),
    ("mysql://root:s3cret-pw@localhost//", "malformed database URL mysql://root:********@localhost//: no database name "
                                           "after the host, e.g. mysql://user@localhost/mydb"),
    ("oracle://x/y", "unsupported database URL scheme 'oracle'"),
])
def test_malformed_database_urls(url, message):
    with pytest.raises(BadInput) as raised:
        guards.check_database_url(url)
    assert str(raised.value).startswith(message), str(raised.value)


@pytest.mark.parametrize("url", ["sqlite:////tmp/db.sqlite3", "sqlite:///relative.sqlite3", "postgres://me@localhost:5432/db",
                                 "mysql://root@127.0.0.1/db", "postgres://me@localhost/XX", "postgres://me@localhost/X/"])
def test_well_formed_database_urls(url):
    guards.check_database_url(url)


@pytest.mark.parametrize("url, local", [
    ("postgres://me@localhost/db", True), ("postgres://me@LOCALHOST/db", True), ("postgres://me@127.0.0.1:5433/db", True),
    ("postgres://me@[::1]/db", True), ("postgres:///db", True), ("postgres://%2Fvar%2Frun%2Fpostgresql/db", True),
    ("postgres:///db?host=/var/run/postgresql", True), ("mysql://root@127.0.0.2/db", True),
    ("mysql://root@localhost.localdomain/db", True), ("mysql://root@ip6-localhost/db", True),
    ("postgres:///db?host=localhost", True), ("sqlite:////srv/db.sqlite3", True),
    ("sqlite://somehost/db.sqlite3", True),  # SQLite is a file on this machine, whatever the URL says
    ("postgres://me@db.example.com/db", False), ("mysql://root@10.1.2.3/db", False),
    ("postgres:///db?host=db.internal", False), ("postgres://me@notlocalhost/db", False),
    ("postgres://me@db.example.com/db?host=/var/run/postgresql", False),
])
def test_which_databases_are_local(url, local):
    assert guards.is_local(url) is local


def test_parameters_the_runbook_declares_are_accepted(make_runbook):
    rb = make_runbook([cell("a", "!true")], parameters="app: str = 'accounts'\ntarget = '0001'\n")
    assert guards.declared_parameters(rb) == ["project_dir", "database_url", "app", "target"]
    guards.check_parameters(rb, {"app": "transaction", "target": "zero"})


def test_only_plain_names_are_parameters(make_runbook):
    rb = make_runbook([cell("a", "!true")], parameters="a, b = 1, 2\nx.y = 3\nprint('hi')\nlabel: str\n")
    assert guards.declared_parameters(rb) == ["project_dir", "database_url", "label"]


def test_an_undeclared_parameter_is_refused_naming_the_declared_ones(make_runbook):
    rb = make_runbook([cell("a", "!true")], parameters="app = 'accounts'\ntarget = 'zero'\n")
    with pytest.raises(BadInput) as raised:
        guards.check_parameters(rb, {"app": "x", "tagret": "y"})
    assert str(raised.value) == "runbook 'probe' has no parameter 'tagret' (its parameters: app, target)"


def test_a_runbook_without_parameters_says_so(make_runbook):
    rb = make_runbook([cell("a", "!true")])
    with pytest.raises(BadInput) as raised:
        guards.check_parameters(rb, {"app": "x"})
    assert str(raised.value) == ("runbook 'probe' has no parameter 'app' "
                                 "(its parameters: none besides project_dir and database_url)")


@pytest.mark.parametrize("name, option", [("project_dir", "--project"), ("database_url", "--database-url")])
def test_the_runners_own_parameters_are_refused(make_runbook, name, option):
    rb = make_runbook([cell("a", "!true")])
    with pytest.raises(BadInput) as raised:
        guards.check_parameters(rb, {name: "x"})
    assert str(raised.value) == f"parameter {name!r} is set by the runner: use {option} instead of -p {name}=…"


def test_a_runbook_without_a_parameters_cell_declares_nothing(make_runbook):
    rb = make_runbook([cell("a", "!true")])
    rb.cells = [c for c in rb.cells if not c.is_parameters]
    assert guards.declared_parameters(rb) == []


def test_a_parameters_cell_that_is_not_python_is_bad_input(make_runbook):
    rb = make_runbook([cell("a", "!true")], parameters="x = (\n")
    with pytest.raises(BadInput) as raised:
        guards.declared_parameters(rb)
    assert str(raised.value) == "runbook 'probe': its parameters cell is not valid Python"


# -- the backup before the first destructive cell ---------------------------------------------

class Taken:
    """Stands in for backup.take_verified, recording its calls (the real one is tested in test_backup)."""

    def __init__(self, error: Exception | None = None):
        self.calls, self.error = [], error

    def __call__(self, project, database, folder, work, label):
        self.calls.append((project, database, folder, work, label))
        if self.error:
            raise self.error
        (folder / "own-1").mkdir(parents=True)
        return backup.Backup(folder / "own-1", {"t": 1}, "0" * 64, ["check one", "check two"])


def guard_for(rb, notes, tmp_path):
    return guards.BackupBeforeDestruction(rb, "sqlite", tmp_path / "own", Database("sqlite:////tmp/own.sqlite3"),
                                          tmp_path / "backups", tmp_path / "work", notes.append, lambda s: s.upper())


def test_the_backup_is_taken_once_before_the_first_destructive_cell(make_runbook, tmp_path, monkeypatch):
    taken = Taken()
    monkeypatch.setattr(backup, "take_verified", taken)
    rb = make_runbook([cell("look", "!true"), cell("drop", "!true", destructive=True), cell("again", "!true", destructive=True)])
    notes: list[str] = []
    guard = guard_for(rb, notes, tmp_path)
    guard.before(rb.cell("parameters"))
    guard.before(rb.cell("look"))
    assert taken.calls == [] and notes == []
    guard.before(rb.cell("drop"))
    assert taken.calls == [(tmp_path / "own", guard.database, tmp_path / "backups", tmp_path / "work", "probe")]
    taken_to = tmp_path / "backups" / "own-1"
    assert notes == [  # the project is no git work tree here: no commit to check out (tests/test_restore.py has one)
        "backing up the database before 'drop', the first cell that deletes data …",
        "backup verified: check one", "backup verified: check two", f"backup: {taken_to}",
        "restore it on an empty database, in the project's folder:",
        f"  cd {tmp_path}/own && python manage.py migrate && python manage.py loaddata {taken_to}/finflo.xml "
        f"{taken_to}/other-apps.xml",
    ]
    assert (taken_to / "restore.txt").read_text().splitlines() == [notes[-2], notes[-1]]
    guard.before(rb.cell("again"))
    assert len(taken.calls) == 1


def test_a_guard_for_a_harmless_runbook_takes_no_backup(make_runbook, tmp_path, monkeypatch):
    taken = Taken()
    monkeypatch.setattr(backup, "take_verified", taken)
    rb = make_runbook([cell("look", "!true")])
    guard = guard_for(rb, [], tmp_path)
    for c in rb.cells:
        guard.before(c)
    assert taken.calls == []


@pytest.mark.parametrize("error", [backup.BackupNotVerified("rows differ"), DropFailed("rows differ")])
def test_a_backup_that_fails_stops_the_run_before_the_cell(make_runbook, tmp_path, monkeypatch, error):
    monkeypatch.setattr(backup, "take_verified", Taken(error))
    rb = make_runbook([cell("drop", "!true", destructive=True)])
    guard = guard_for(rb, [], tmp_path)
    with pytest.raises(RunbookFailed) as raised:
        guard.before(rb.cell("drop"))
    # The message goes through the run's scrubber (here: upper case).
    assert str(raised.value) == "RUNBOOK 'PROBE', CELL 'DROP' ON SQLITE: BACKUP NOT VERIFIED, SO NOTHING WAS DESTROYED: ROWS DIFFER"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


# -- the programs a shell line runs (operator mode's preconditions) -------------------------------

def test_shell_keywords_are_not_programs():
    """`if`/`for`/`do` are read by the shell: a procedure written with them needs no program of that name."""
    from runbook.shellwords import programs

    assert [p for p, _ in programs("for t in a b; do python manage.py shell -c x; done")] == ["manage.py shell"]
    assert [p for p, _ in programs("if test -f x; then rm x; else echo no; fi")] == ["test", "rm", "echo"]
    assert [p for p, _ in programs("! grep -q x f && { echo a; }")] == ["grep", "echo"]
