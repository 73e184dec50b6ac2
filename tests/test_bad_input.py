"""Bad input, beyond the CLI cases of test_runner.py: runbooks, parameters, projects, database URLs,
the guards of destructive runbooks, the backup folder and page macros.

Each is one line on stderr, exit 2, and nothing changed: the project folder and the repository are
byte-identical before and after.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from runbook.executor import copy_sample_project
from runbook.paths import RUNBOOKS

from .conftest import REPO
from .notebook_builder import cell, write_runbook

# Tracked folders; .runbook/ (generated) is shared with any validation running at the same time, so
# for it the test checks that no executed notebook of its own runbooks appeared.
WATCHED = ("runbooks", "sampleproject", "src", "docs", "hooks", "tests")


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def repository() -> dict[str, str]:
    found = {}
    for name in WATCHED:
        if (REPO / name).exists():
            found.update({f"{name}/{k}": v for k, v in snapshot(REPO / name).items()})
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An operator's project (with its own git history), a folder of test runbooks, a backup folder."""
    base = tmp_path_factory.mktemp("bad-input")
    project = copy_sample_project(base / "own")
    runbooks = base / "runbooks"
    write_runbook(runbooks, "greet", [cell("greet", "!echo {greeting}")], extra_parameters='greeting = "hello"\n')
    write_runbook(runbooks, "wipe", [cell("drop", "!python manage.py drop_tables --noinput", destructive=True)],
                  destructive=True)
    write_runbook(runbooks, "dupes", [cell("same", "!echo 1"), cell("other", "!echo 2")])
    raw = (runbooks / "dupes.ipynb").read_text()  # nbformat itself would rename the duplicate
    (runbooks / "dupes.ipynb").write_text(raw.replace('"id": "other"', '"id": "same"'))
    write_runbook(runbooks, "oracle-cell", [cell("x", "!echo 1", engines=["oracle"])])
    write_runbook(runbooks, "old-django-cell", [cell("x", "!echo 1", django=["1.11"])])
    write_runbook(runbooks, "loose-meta", [cell("x", "!echo 1", output="1", stdout="1")])
    write_runbook(runbooks, "loose-expect", [cell("x", "!echo 1", output="1")])
    raw = (runbooks / "loose-expect.ipynb").read_text()
    (runbooks / "loose-expect.ipynb").write_text(raw.replace('"output": "1"', '"output": "1", "stdout": "1"'))
    write_runbook(runbooks, "bad-timeout", [cell("x", "!echo 1", timeout="soon")])
    nb = nbformat.read(runbooks / "greet.ipynb", as_version=4)
    del nb.metadata["runbook"]
    nbformat.write(nb, runbooks / "no-metadata.ipynb")
    (runbooks / "empty.ipynb").write_text("")
    # The circular page's runbook, with its two procedures, beside runbooks that have one.
    shutil.copy(RUNBOOKS / "circular-dependency.ipynb", runbooks)
    write_runbook(runbooks, "stray-procedure", [cell("x", "!echo 1", procedure="committed")])
    (base / "a-file").write_text("not a folder\n")
    return base


SQLITE = "sqlite:///{base}/own.sqlite3"
# What `runbook plan/run circular-dependency` without --procedure (or with a wrong one) says to choose from.
CIRCULAR_CHOICES = ("--procedure committed if the deleted migrations were committed (restores them from git, then "
                    "deletes the regenerated files git never had), or --procedure never-committed if they were never "
                    "committed (makes them again, then splits what needs finflo out of the user app's first "
                    "migration; proven on the sample project's models only); nothing was changed")
OWN = ["--project", "{base}/own", "--database-url", SQLITE, "--backup-dir", "{base}/audit"]
CASES = {
    "unknown parameter": (
        ["run", "greet", "-p", "greting=hi"],
        "error: runbook 'greet' has no parameter 'greting' (its parameters: greeting)"),
    "parameter the runner sets": (
        ["run", "greet", "-p", "database_url=postgres://elsewhere/x"],
        "error: parameter 'database_url' is set by the runner: use --database-url instead of -p database_url=…"),
    "parameter of a runbook without any": (
        ["run", "wipe", "-p", "force=1"],
        "error: runbook 'wipe' has no parameter 'force' (its parameters: none besides project_dir and database_url)"),
    "notebook without runbook metadata": (
        ["run", "no-metadata"], "error: runbook no-metadata.ipynb has no 'runbook' metadata with a title"),
    "empty notebook file": (
        ["run", "empty"], "error: runbook empty.ipynb is not a Jupyter notebook (invalid JSON)"),
    "duplicate cell ids": (
        ["run", "dupes"], "error: runbook dupes.ipynb: duplicate cell id 'same'"),
    "unknown engine in a cell": (
        ["run", "oracle-cell"],
        "error: runbook oracle-cell.ipynb, cell 'x': unknown engine in runbook.engines ['oracle'] (known: sqlite, postgresql, mariadb)"),
    "unknown Django version in a cell": (
        ["run", "old-django-cell"],
        "error: runbook old-django-cell.ipynb, cell 'x': unknown Django series in runbook.django ['1.11'] (known: 4.2, 5.2)"),
    "unknown expectation": (
        ["run", "loose-expect"],
        "error: runbook loose-expect.ipynb, cell 'x': runbook.expect takes only 'exit' and 'output', got {{'output': '1', 'stdout': '1'}}"),
    "unknown cell metadata": (
        ["run", "loose-meta"],
        "error: runbook loose-meta.ipynb, cell 'x': unknown runbook metadata ['stdout'] (known: destructive, django, engines, expect, hidden, interactive, needs, procedure, role, timeout, writes)"),
    "timeout that is not a number": (
        ["run", "bad-timeout"],
        "error: runbook bad-timeout.ipynb, cell 'x': runbook.timeout must be a positive number of seconds, got 'soon'"),
    "validate an unknown runbook": (
        ["validate", "gret"], "error: unknown runbook 'gret' (known: "),
    "project that does not exist": (
        ["run", "greet", "--project", "{base}/nowhere"], "error: not a Django project (no manage.py): {base}/nowhere"),
    "project that is a file": (
        ["run", "greet", "--project", "{base}/a-file"], "error: not a Django project (no manage.py): {base}/a-file"),
    "port that is not a number": (
        ["run", "greet", "--database-url", "postgres://me:s3cret@localhost:fivefourthreetwo/db"],
        "error: malformed database URL: the port is not a number (in postgres://me:********@localhost:fivefourthreetwo/db)"),
    "URL without a database name": (
        ["run", "greet", "--database-url", "postgres://me@localhost:5432"],
        "error: malformed database URL postgres://me@localhost:5432: no database name after the host, e.g. postgres://user@localhost/mydb"),
    "SQLite URL without a file": (
        ["run", "greet", "--database-url", "sqlite://"],
        "error: malformed database URL sqlite://: no SQLite file, e.g. sqlite:////abs/path/db.sqlite3"),
    "SQLite file in a missing folder": (
        ["run", "greet", "--database-url", "sqlite:///{base}/missing/db.sqlite3"],
        "error: SQLite database folder does not exist: /{base}/missing"),
    "destructive on a remote database": (
        ["run", "wipe", "--project", "{base}/own", "--allow-destructive",
         "--database-url", "postgres://me@db.example.com:5432/prod"],
        "error: runbook 'wipe' deletes data, and the database is on another host (db.example.com); to run it "
        "there anyway, add --allow-remote-database"),
    "destructive without the flag, on a remote database": (
        ["run", "wipe", "--project", "{base}/own", "--database-url", "postgres://me@10.0.0.5/prod"],
        "error: runbook 'wipe' deletes data or migrations; against your own project it runs only with --allow-destructive"),
    "backup folder inside the project": (
        ["run", "wipe", "--project", "{base}/own", "--allow-destructive", "--database-url", SQLITE,
         "--backup-dir", "{base}/own/backups"],
        "error: --backup-dir {base}/own/backups is inside the project {base}/own: backups go outside it"),
    "backup folder under a file": (
        ["run", "wipe", "--project", "{base}/own", "--allow-destructive", "--database-url", SQLITE,
         "--backup-dir", "{base}/a-file/backups"],
        "error: --backup-dir {base}/a-file/backups: {base}/a-file is not a folder"),
    "a runbook with alternatives run without --procedure": (
        ["run", "circular-dependency", *OWN, "--allow-destructive", "--yes"],
        "error: runbook 'circular-dependency' has 2 alternative procedures, one per situation: choose one with "
        + CIRCULAR_CHOICES),
    "a runbook with alternatives planned without --procedure": (
        ["plan", "circular-dependency", *OWN[:4]],
        "error: runbook 'circular-dependency' has 2 alternative procedures, one per situation: choose one with "
        + CIRCULAR_CHOICES),
    "an unknown procedure": (
        ["run", "circular-dependency", *OWN, "--procedure", "commited"],
        "error: runbook 'circular-dependency' has no procedure 'commited': choose " + CIRCULAR_CHOICES),
    "--procedure for a runbook without alternatives": (
        ["run", "wipe", *OWN, "--allow-destructive", "--yes", "--procedure", "committed"],
        "error: runbook 'wipe' has a single procedure: run it without --procedure; nothing was changed"),
    "--procedure without --project": (
        ["run", "circular-dependency", "--procedure", "committed"],
        "error: --procedure chooses what runs against --project; without --project every cell runs on a copy of "
        "the sample project, as `runbook validate` runs them"),
    "a cell of a procedure the runbook does not declare": (
        ["run", "stray-procedure"],
        "error: runbook stray-procedure.ipynb, cell 'x': unknown procedure in runbook.procedure 'committed' (known: "
        "none: the notebook metadata declares no 'procedures')"),
    "run timeout that is not a number": (
        ["run", "greet", "--run-timeout", "soon"], "error: argument --run-timeout: not a number: 'soon'"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_changes_nothing(case, world):
    args, message = CASES[case]
    args = [a.format(base=world) for a in args]
    message = message.format(base=world)
    project_before, repository_before = snapshot(world / "own"), repository()
    result = subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "RUNBOOK_DIR": str(world / "runbooks")},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    if "procedure" in case:  # the whole message, exactly
        assert result.stderr == message + "\n"
    assert result.stdout == ""
    assert snapshot(world / "own") == project_before
    assert repository() == repository_before
    assert not (world / "own.sqlite3").exists() and not (world / "audit").exists()
    assert not [p for p in (REPO / ".runbook" / "executed").glob("*.ipynb")
                if p.name.split("-")[0] in {"greet", "wipe", "dupes", "oracle", "loose", "bad", "empty", "no"}]


def test_a_remote_database_runs_with_the_second_flag(world):
    """The remote guard lets the run through with --allow-remote-database (it then fails to connect)."""
    result = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "run", "wipe", "--project", str(world / "own"), "--allow-destructive",
         "--allow-remote-database", "--database-url", "postgres://me@192.0.2.1:9/prod"],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "RUNBOOK_DIR": str(world / "runbooks")},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot reach the postgresql server at 192.0.2.1: ")


@pytest.mark.parametrize("url, local", [
    ("postgres://me@localhost/db", True), ("postgres://me@127.0.0.1:5433/db", True),
    ("postgres://me@[::1]/db", True), ("postgres:///db", True), ("postgres://%2Fvar%2Frun%2Fpostgresql/db", True),
    ("postgres:///db?host=/var/run/postgresql", True), ("mysql://root@127.0.0.2/db", True),
    ("sqlite:////srv/db.sqlite3", True), ("postgres://me@db.example.com/db", False),
    ("mysql://root@10.1.2.3/db", False), ("postgres:///db?host=db.internal", False),
])
def test_which_databases_are_local(url, local):
    from runbook.guards import is_local

    assert is_local(url) is local


# -- page macros ---------------------------------------------------------------------------------

class _Page:
    class file:
        src_uri = "how-to/circular-dependency.md"


class _Env:
    page = _Page()


@pytest.mark.parametrize("call, message", [
    (lambda site: site.command("circular-dependency", "makemigrations-acounts"),
     "docs/how-to/circular-dependency.md: runbook 'circular-dependency' has no cell 'makemigrations-acounts' (its cells: "),
    (lambda site: site.step("circular-dependencies", "migrate"),
     "docs/how-to/circular-dependency.md: unknown runbook 'circular-dependencies'"),
    (lambda site: site.output("circular-dependency", "setup", engine="oracle"),
     "docs/how-to/circular-dependency.md: unknown engine 'oracle' (known: sqlite, postgresql, mariadb)"),
    (lambda site: site.file_excerpt("accounts/models.py", start="class Nothing", end="x"),
     "docs/how-to/circular-dependency.md: no line of sampleproject/accounts/models.py matches start='class Nothing'"),
])
def test_a_bad_macro_stops_the_build_with_one_line(call, message):
    sys.path.insert(0, str(REPO / "hooks"))
    try:
        import macros
    finally:
        sys.path.remove(str(REPO / "hooks"))
    before = repository()
    with pytest.raises(macros.MacroError) as raised:
        call(macros._Site(_Env()))
    assert str(raised.value).startswith(message), str(raised.value)
    assert "\n" not in str(raised.value)
    assert repository() == before


def test_a_reader_who_closes_the_pipe_gets_no_traceback():
    """`runbook list | head -1` with head gone before the first line: exit 141, as a shell tool, and quiet."""
    proc = subprocess.Popen([sys.executable, "-m", "runbook.cli", "list"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # long before the interpreter has started and printed anything
    with proc.stderr:
        stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, stderr
    assert "Traceback" not in stderr and stderr == ""
