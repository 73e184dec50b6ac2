"""What a reader of how-to/reset-database (and of its explanation page) checks."""
import ast
import os
import re
import subprocess
import sys

import pexpect

from runbook import notebooks, pagecheck
from runbook.executor import copy_sample_project

from ..conftest import REPO
from .conftest import failed_as_expected, succeeded

SLUG = "reset-database"
PAGE = REPO / "docs/how-to/reset-database.md"
EXPLANATION = REPO / "docs/explanation/reset-database.md"
CELL_MACRO = re.compile(r"\{\{\s*(?:command|output|step|engine_outputs|edit)\(\s*\"reset-database\",\s*\"([\w-]+)\"")
ENGINES = ("sqlite", "postgresql", "mariadb")
# The scratch-database settings of the backup, reset and rollback procedures (one text for the three).
SCRATCH_SETTINGS = (
    "# A scratch database beside the project's own: a backup is loaded and compared there before anything is destroyed.\n"
    "from .settings import *  # noqa: F401,F403\n"
    "\n"
    'DATABASES = {"default": {**DATABASES["default"], "NAME": f"{DATABASES[\'default\'][\'NAME\']}_scratch"}}\n'
)
PROOF = 'diff -q "$BACKUP_DIR/database.sha256" "$BACKUP_DIR/scratch.sha256" && '
# Each final check and the demonstration that shows it failing (the task not done).
COUNTER_RUNS = {"check-tables": ("counter-tables", "empty"), "check-migrations": ("counter-migrations", "empty")}


def _sections(text: str) -> list[tuple[str, str]]:
    """The page's `## ` sections: (heading, body)."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return list(zip(parts[1::2], parts[2::2]))


def _shown(text: str) -> list[str]:
    return CELL_MACRO.findall(text)


def _on_throwaway(command: str, name: str) -> str:
    """A procedure line as the explanation page runs it: on a throwaway database, with the sample's settings."""
    command = re.sub(r"python manage\.py (shell|migrate) ", r"python manage.py \1 --settings=config.sample_only ", command, count=1)
    return f"THROWAWAY_DATABASE_URL={{{name}_database_url}} {command}"


def test_the_procedure_is_the_first_section_and_holds_every_step_the_reader_runs():
    runbook = notebooks.find(SLUG)
    heading, body = _sections(PAGE.read_text())[0]
    assert heading == "Reset the database"
    procedure = [c.id for c in runbook.cells if c.role == "procedure" and not c.hidden and not c.is_parameters]
    assert [c for c in _shown(body) if c in procedure] == procedure, "every procedure step, in order"
    assert re.findall(r"^(\d)\. ", body, flags=re.M) == [str(n) for n in range(1, 9)]
    # What the reader sees first is the database about to be dropped; the backup and its proof come before the drop.
    order = _shown(body)
    assert order[0] == "target"
    assert order.index("backup") < order.index("scratch-compare") < min(order.index(f"reset-{e}") for e in ENGINES)
    # The how-to shows the reader's steps only: no demonstration, but the reader's own createsuperuser.
    demos = [c for c in order if runbook.cells_by_id[c].role == "demo"]
    assert demos == ["createsuperuser"] and runbook.cells_by_id["createsuperuser"].interactive


def test_the_how_to_says_nothing_about_how_it_was_made():
    text = re.sub(r"\{\{.*?\}\}", "", PAGE.read_text())
    for word in ("runbook", "runner", " cell", "old guide", "TTY", "sample_only", "THROWAWAY"):
        assert word not in text, word


def test_every_demonstration_fails_closed_and_every_procedure_line_is_plain():
    runbook = notebooks.find(SLUG)
    for cell in runbook.cells:
        if cell.role == "demo":
            assert cell.interactive or pagecheck.fails_closed(cell), cell.id
        elif cell.role in ("procedure", "check"):
            assert not any("sample_only" in c or "THROWAWAY" in c or "_database_url}" in c for c in cell.commands), cell.id


def test_the_scratch_settings_are_the_shared_text_and_are_removed_before_the_drop():
    runbook = notebooks.find(SLUG)
    call = ast.parse(runbook.cells_by_id["scratch-settings"].source).body[0].value
    values = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    assert ast.literal_eval(call.args[0]) == "config/scratch_settings.py"
    assert values == {"old": "", "new": SCRATCH_SETTINGS}
    ids = [c.id for c in runbook.cells]
    # Proven, then cleaned up, then the drop: declining the drop (or a failed one) leaves no scratch behind.
    assert ids.index("scratch-compare") < min(ids.index(f"scratch-drop-{e}") for e in ENGINES)
    assert max(ids.index(f"scratch-drop-{e}") for e in ENGINES) < ids.index("scratch-settings-remove") \
        < min(ids.index(f"reset-{e}") for e in ENGINES)


def test_each_drop_runs_only_after_the_backup_was_proven():
    runbook = notebooks.find(SLUG)
    for engine in ENGINES:
        (command,) = runbook.cells_by_id[f"reset-{engine}"].commands
        assert command.startswith(PROOF), engine
    assert '"$DB-wal" "$DB-shm" "$DB-journal"' in runbook.cells_by_id["reset-sqlite"].commands[0]


def _sqlite_reset(tmp_path, same_fingerprints: bool, command: str | None = None):
    """Run the page's SQLite drop line on a database in WAL mode with its -wal, -shm and -journal files."""
    project = copy_sample_project(tmp_path / "project")
    db = tmp_path / "db.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "BACKUP_DIR": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1",
           "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=project, env=env, check=True, capture_output=True)
    for suffix in ("-wal", "-shm", "-journal"):
        (tmp_path / f"db.sqlite3{suffix}").write_text("left by a process that still had the file open\n")
    (tmp_path / "database.sha256").write_text("accounts_parties 1 aaa\n")
    (tmp_path / "scratch.sha256").write_text("accounts_parties 1 aaa\n" if same_fingerprints else "accounts_parties 1 bbb\n")
    command = command or notebooks.find(SLUG).cells_by_id["reset-sqlite"].commands[0]
    result = subprocess.run(["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True)
    return result, sorted(p.name for p in tmp_path.glob("db.sqlite3*"))


def test_the_sqlite_drop_takes_the_wal_shm_and_journal_files_with_it(tmp_path):
    result, left = _sqlite_reset(tmp_path, same_fingerprints=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert left == [], left


def test_the_sqlite_drop_deletes_nothing_when_the_proof_failed(tmp_path):
    result, left = _sqlite_reset(tmp_path, same_fingerprints=False)
    assert result.returncode == 1 and result.stdout.endswith("scratch.sha256 differ\n"), result.stdout
    assert left == ["db.sqlite3", "db.sqlite3-journal", "db.sqlite3-shm", "db.sqlite3-wal"]


def test_the_procedure_leaves_every_table_empty_but_migrates_and_seeds_finflo(record_of):
    record = record_of(SLUG)
    ran = [c for c in ("reset-sqlite", "reset-postgresql", "reset-mariadb") if record.cell(c).outcome != "skipped"]
    assert len(ran) == 1 and succeeded(record.cell(ran[0]))
    lines = succeeded(record.cell("check-tables"))
    assert lines[-1] == "every model has its table"
    assert {line.split()[0] for line in lines[:-1]} == {
        "auth_permission", "django_content_type", "django_migrations",
        "finflo_action", "finflo_flowmodel", "finflo_signlist", "finflo_states"}, lines
    assert succeeded(record.cell("check-migrations")) == ["Planned operations:", "  No planned migration operations."]
    assert succeeded(record.cell("check-finflo")) == ["finflo seeded rows: OK"]


def test_the_backup_is_loaded_and_compared_in_the_scratch_database_before_the_drop(record_of):
    runbook, record = notebooks.find(SLUG), record_of(SLUG)
    saved = int(succeeded(record.cell("backup"))[-1].removeprefix("objects saved: "))
    assert succeeded(record.cell("scratch-load"))[-1] == f"Installed {saved} object(s) from 2 fixture(s)"
    assert re.fullmatch(r"same values in all \d+ tables", succeeded(record.cell("scratch-compare"))[-1])
    # The scratch database is the project's name with _scratch, and it is gone at the end.
    sqlite = record.cell("scratch-create-sqlite")
    if sqlite.outcome != "skipped":
        name = succeeded(sqlite)[0]
        assert name.endswith("_scratch") and succeeded(record.cell("scratch-drop-sqlite")) == [f"removed '{name}'"]
    # The same fingerprint of the project's database and of the scratch one, compared line by line.
    parts = runbook.cells_by_id["scratch-compare"].commands[0].split(" && ")
    assert parts[1:3] == ['python manage.py shell -v 0 -c "$F" > "$BACKUP_DIR/database.sha256"',
                          'python manage.py shell --settings=config.scratch_settings -v 0 -c "$F" > "$BACKUP_DIR/scratch.sha256"']


def test_a_backup_that_loses_a_value_stops_the_reset_and_the_data_stays(record_of):
    runbook, record = notebooks.find(SLUG), record_of(SLUG)
    # The very comparison of the procedure, on two throwaway databases.
    fingerprint = runbook.cells_by_id["scratch-compare"].commands[0].split(" && ")[0]
    assert runbook.cells_by_id["lossy-compare"].commands[0].startswith(f"test -f config/sample_only.py && {fingerprint} && ")
    assert failed_as_expected(record.cell("lossy-compare")) == ["FAILED: accounts_parties differs"]
    for engine in ENGINES:
        cell = record.cell(f"lossy-drop-refused-{engine}")
        if cell.outcome != "skipped":
            assert failed_as_expected(cell)[-1].endswith("lossy-scratch.sha256 differ")
        drop = runbook.cells_by_id[f"reset-{engine}"].commands[0].removeprefix(PROOF)
        refused = runbook.cells_by_id[f"lossy-drop-refused-{engine}"].commands[0]
        assert refused.startswith('test -f config/sample_only.py && diff -q "$BACKUP_DIR/lossy.sha256" "$BACKUP_DIR/lossy-scratch.sha256" && ')
        # The same drop, each manage.py of it on the throwaway database.
        tail = refused.removeprefix('test -f config/sample_only.py && diff -q "$BACKUP_DIR/lossy.sha256" '
                                    '"$BACKUP_DIR/lossy-scratch.sha256" && ')
        assert re.sub(r"THROWAWAY_DATABASE_URL=\{lossy_database_url\} | --settings=config\.sample_only", "", tail) == drop, engine
    assert succeeded(record.cell("lossy-kept")) == ["['Trailing Space Ltd ']"]


def test_each_final_check_fails_when_the_reset_is_not_done(record_of):
    runbook, record = notebooks.find(SLUG), record_of(SLUG)
    for check, (counter, database) in COUNTER_RUNS.items():  # the very command the procedure shows, on another database
        assert runbook.cells_by_id[counter].commands == [_on_throwaway(runbook.cells_by_id[check].commands[0], database)]
    checks = [runbook.cells_by_id[c].commands[0] for c in ("check-tables", "check-migrations", "check-finflo")]
    assert runbook.cells_by_id["checks-after-flush"].commands == [_on_throwaway(c, "guide") for c in checks]
    lines = failed_as_expected(record.cell("counter-tables"))
    assert "FAILED: table transaction_invoice is missing" in lines and "FAILED: table finflo_signlist is missing" in lines
    lines = failed_as_expected(record.cell("counter-migrations"))
    assert lines[0] == "Planned operations:" and "finflo.0001_initial" in lines
    # Not a check of the reset: it passes on the same empty database.
    assert succeeded(record.cell("counter-makemigrations")) == ["No changes detected"]
    # After flush the first two checks pass (tables there, migrations recorded); finflo's fails.
    lines = failed_as_expected(record.cell("checks-after-flush"))
    assert "every model has its table" in lines and "  No planned migration operations." in lines
    assert lines[-4:] == [
        "FAILED: finflo has fewer than 4 SignList rows",
        "FAILED: finflo has no DRAFT state",
        "FAILED: finflo has no RETURN action",
        "FAILED: finflo has no Flowmodel row for transaction.Invoice",
    ]


def test_flush_loses_finflo_seeded_rows_and_breaks_the_signal(record_of):
    record = record_of(SLUG)
    lines = failed_as_expected(record.cell("save-after-flush"))
    assert lines[-1] == "AttributeError: 'NoneType' object has no attribute 'description'"
    assert any(ln.startswith('  File "<site-packages>/finflo/signals.py"') for ln in lines), lines


def test_the_old_guides_drop_tables_is_shown_and_leaves_nothing_applied(record_of):
    runbook, record = notebooks.find(SLUG), record_of(SLUG)
    assert not runbook.cells_by_id["drop-tables"].hidden and "drop-tables" in _shown(EXPLANATION.read_text())
    assert not [c.id for c in runbook.cells if c.hidden and c.role == "demo"], "no hidden demonstration"
    assert re.fullmatch(r"Dropped \d+ tables\.", succeeded(record.cell("drop-tables"))[0])
    assert "[X]" not in "\n".join(succeeded(record.cell("showmigrations-after-drop")))


def test_table_already_exists_is_recovered_by_comparing_then_faking_not_by_fake_initial(record_of):
    runbook, record = notebooks.find(SLUG), record_of(SLUG)
    assert not any("--fake-initial" in c for cell in runbook.cells for c in cell.commands)
    ids = [c.id for c in runbook.cells]
    assert ids.index("showmigrations-half") < ids.index("sqlmigrate-accounts-0002") < ids.index("schema-sqlite") \
        < ids.index("fake-accounts-0002") < ids.index("migrate-after-fake")
    assert succeeded(record.cell("fake-accounts-0002"))[-1] == "  Applying accounts.0002_links_to_finflo_and_transaction... FAKED"
    assert succeeded(record.cell("migrate-after-fake")) == ["Planned operations:", "  No planned migration operations."]


def test_the_ci_superuser_can_log_in_and_the_password_trap_is_shown(record_of):
    record = record_of(SLUG)
    assert succeeded(record.cell("ci-createsuperuser")) == ["Superuser created successfully."]
    assert succeeded(record.cell("ci-superuser-can-log-in"))[-1] == "admin can log in: True"
    assert succeeded(record.cell("ci-superuser-without-password")) == ["Superuser created successfully."]
    assert succeeded(record.cell("ci-superuser-cannot-log-in"))[-1] == "nopass has a usable password: False"


def test_at_a_terminal_createsuperuser_asks_what_the_page_says_and_makes_a_superuser_who_can_log_in(tmp_path):
    """Step 8's claim, which a run without a terminal cannot show: run at a terminal (a pty)."""
    project = copy_sample_project(tmp_path / "project")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "PYTHONDONTWRITEBYTECODE": "1"}
    migrate = pexpect.run(f"{sys.executable} manage.py migrate -v 0", cwd=str(project), env=env, withexitstatus=True)
    assert migrate[1] == 0, migrate[0]
    child = pexpect.spawn(sys.executable, ["manage.py", "createsuperuser"], cwd=str(project), env=env,
                          encoding="utf-8", timeout=60)
    for prompt, answer in (("Username: ", "maja"), ("Email address: ", "maja@example.com"),
                           ("Password: ", "a-long-Reader-secret-42"), (r"Password \(again\): ", "a-long-Reader-secret-42")):
        child.expect(prompt)
        child.sendline(answer)
    child.expect("Superuser created successfully.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    login = pexpect.run(
        f"{sys.executable} manage.py shell -v 0 -c \"from django.contrib.auth import authenticate; "
        f"u = authenticate(username='maja', password='a-long-Reader-secret-42'); print(u.is_superuser)\"",
        cwd=str(project), env=env, encoding="utf-8")
    assert login.strip() == "True"
