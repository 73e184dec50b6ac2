"""What a reader of how-to/reset-database checks."""
import os
import re
import sys

import pexpect

from runbook import notebooks
from runbook.executor import copy_sample_project

from ..conftest import REPO
from .conftest import failed_as_expected, succeeded

SLUG = "reset-database"
PAGE = REPO / "docs/how-to/reset-database.md"
CELL_MACRO = re.compile(r"\{\{\s*(?:command|output|step|engine_outputs|edit)\(\s*\"reset-database\",\s*\"([\w-]+)\"")
# Demo cells the page shows that run on the reader's own database, each with why that is harmless.
ON_THE_MAIN_DATABASE = {
    "createsuperuser": "the reader's own step 5; the runbook has no terminal, so Django creates nobody (asserted below)",
    "committed-migrations": "git ls-files: lists files",
    "finflo-data-migrations": "imports finflo's migration modules and prints their functions' names",
}
# Each final check and the demonstration that shows it failing (the task not done).
COUNTER_RUNS = {"check-tables": "counter-tables", "check-migrations": "counter-migrations",
                "check-finflo": "checks-after-flush"}


def _sections(text: str) -> list[tuple[str, str]]:
    """The page's `## ` sections: (heading, body)."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return list(zip(parts[1::2], parts[2::2]))


def _shown(text: str) -> list[str]:
    return CELL_MACRO.findall(text)


def _danger_blocks(text: str) -> str:
    """The text of every `??? danger "Do not run this on your data"` block (its indented body)."""
    found = re.findall(r'^(\s*)\?\?\? danger "Do not run this on your data"\n((?:\1    .*\n|\s*\n)*)', text, flags=re.M)
    return "".join(body for _, body in found)


def test_the_procedure_is_the_first_section_and_holds_every_operator_step():
    runbook = notebooks.find(SLUG)
    heading, body = _sections(PAGE.read_text())[0]
    assert heading == "Reset the database"
    steps = [c.id for c in runbook.operator_cells if not c.is_parameters and not c.hidden]
    assert [c for c in _shown(body) if c in steps] == steps, "the procedure shows every operator step, in order"
    # One numbered list: back up, reset, migrate, check, superuser.
    assert re.findall(r"^(\d)\. ", body, flags=re.M) == ["1", "2", "3", "4", "5"]
    assert _shown(body).index("backup") == 0, "the first step the reader runs is the backup"
    # Nothing in it touches a throwaway database: every line there is for the reader's own project.
    for cell_id in _shown(body):
        assert "_database_url}" not in runbook.cells_by_id[cell_id].source, cell_id


def test_no_demo_cell_targets_the_main_database_outside_a_danger_block():
    runbook, text = notebooks.find(SLUG), PAGE.read_text()
    in_danger = set(_shown(_danger_blocks(text)))
    throwaway = re.compile(r"^DATABASE_URL=\{(%s)_database_url\} (\w+=\S+ )*python manage\.py " % "|".join(runbook.extra_databases))
    for cell_id in dict.fromkeys(_shown(text)):
        cell = runbook.cells_by_id[cell_id]
        if cell.role != "demo" or cell_id in in_danger or cell_id in ON_THE_MAIN_DATABASE:
            continue
        for command in cell.commands:
            for part in re.split(r"&&|\|\||;|\|", command):  # each command of the line names the throwaway database
                if "manage.py" in part:
                    assert throwaway.match(part.strip()), f"demo cell {cell_id!r} runs on the reader's database: {command}"
    # Every data-changing step of the old guide is among them, on a throwaway database.
    for cell_id in ("flush", "drop-tables", "fake-finflo-0001", "migrate-fake-initial", "run-syncdb",
                    "ci-createsuperuser", "ci-superuser-without-password", "test"):
        assert throwaway.match(runbook.cells_by_id[cell_id].commands[0]), cell_id


def test_the_demonstrations_left_on_the_main_database_change_nothing(record_of):
    record = record_of(SLUG)
    assert succeeded(record.cell("createsuperuser")) == [
        "Superuser creation skipped due to not running in a TTY. You can run `manage.py createsuperuser` in your "
        "project to create one manually."]
    assert failed_as_expected(record.cell("dbflush")) == [
        "Unknown command: 'dbflush'. Did you mean flush?", "Type 'manage.py help' for usage."]


def test_the_procedure_leaves_every_table_empty_but_migrates_and_seeds_finflo(record_of):
    record = record_of(SLUG)
    ran = [c for c in ("reset-sqlite", "reset-postgresql", "reset-mariadb") if record.cell(c).outcome != "skipped"]
    assert len(ran) == 1 and succeeded(record.cell(ran[0]))
    counts = dict(line.split() for line in succeeded(record.cell("check-tables"))[:-1])
    assert succeeded(record.cell("check-tables"))[-1] == "every model has its table"
    assert {t for t, n in counts.items() if n != "0"} == {
        "auth_permission", "django_content_type", "django_migrations",
        "finflo_action", "finflo_flowmodel", "finflo_signlist", "finflo_states"}, counts
    assert succeeded(record.cell("check-migrations")) == ["Planned operations:", "  No planned migration operations."]
    assert succeeded(record.cell("check-finflo")) == ["finflo seeded rows: OK"]


def test_each_final_check_fails_when_the_reset_is_not_done(record_of):
    runbook, record = notebooks.find(SLUG), record_of(SLUG)
    for check, counter in COUNTER_RUNS.items():  # the very command the procedure shows, on another database
        shown = runbook.cells_by_id[check].commands[0]
        assert any(c.endswith(" " + shown) and c.startswith("DATABASE_URL={") for c in runbook.cells_by_id[counter].commands)
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
        "FAILED: finflo SignList has 0 rows, expected 4 signatures",
        "FAILED: finflo States has no DRAFT state",
        "FAILED: finflo Action has no RETURN action",
        "FAILED: finflo Flowmodel has no row for work model transaction.Invoice",
    ]


def test_the_backup_restores_every_object_and_no_second_workflow(record_of):
    record = record_of(SLUG)
    saved = int(succeeded(record.cell("backup"))[-1].removeprefix("objects saved: "))
    assert succeeded(record.cell("restore-loaddata")) == [f"Installed {saved} object(s) from 2 fixture(s)"]
    counts = dict(line.split() for line in succeeded(record.cell("restore-tables"))[:-1])
    assert (counts["transaction_invoice"], counts["finflo_transitionmanager"], counts["finflo_workflowitems"]) == ("1", "1", "1")


def test_flush_loses_finflo_seeded_rows_and_breaks_the_signal(record_of):
    record = record_of(SLUG)
    lines = failed_as_expected(record.cell("save-after-flush"))
    assert lines[-1] == "AttributeError: 'NoneType' object has no attribute 'description'"
    assert any(ln.startswith('  File "<site-packages>/finflo/signals.py"') for ln in lines), lines


def test_the_ci_superuser_can_log_in_and_the_password_trap_is_shown(record_of):
    record = record_of(SLUG)
    assert succeeded(record.cell("ci-createsuperuser")) == ["Superuser created successfully."]
    assert succeeded(record.cell("ci-superuser-can-log-in"))[-1] == "admin can log in: True"
    assert succeeded(record.cell("ci-superuser-without-password")) == ["Superuser created successfully."]
    assert succeeded(record.cell("ci-superuser-cannot-log-in"))[-1] == "nopass has a usable password: False"


def test_at_a_terminal_createsuperuser_asks_what_the_page_says_and_makes_a_superuser_who_can_log_in(tmp_path):
    """Step 5's claim, which the runbook (no terminal) cannot show: run at a terminal (a pty)."""
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
