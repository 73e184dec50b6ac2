"""A demonstration copied into a reader's project fails closed (issue 24, item 1; STYLE 22).

Every line the site shows that is not a step of a page's procedure (each ``demo`` cell's commands,
as the pages show them, on every engine's tab) is run verbatim by ``bash`` in reader projects built
the way readers have them, each holding the reader's own data:

- SQLite, the database written into the settings (``NAME: BASE_DIR / "db.sqlite3"``);
- PostgreSQL, the database written into the settings (NAME, HOST, USER);
- MariaDB, settings that read ``DATABASE_URL``, which the reader's shell exports.

None of these projects has the sample's ``config/sample_only.py``. Afterwards every table holds the
same values at full precision, the migration history is the same, no project file changed and
nothing was written outside the project (its folder's surroundings, the reader's home) but in
``$BACKUP_DIR``. ``test_the_check_catches_a_demonstration_without_its_mechanism`` runs one such line
with its mechanism taken out and asserts that the same comparison then sees the reader's data change.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from runbook import databases, notebooks, pagecheck
from runbook.executor import copy_sample_project

from .test_reader_follows_pages import EXTRA_DATA, Reader, measure

# How each engine's reader project names its database.
STYLES = {"sqlite": "written in", "postgresql": "written in", "mariadb": "DATABASE_URL"}
# Left behind by running any command in a project: Python's bytecode cache, finflo's log file.
RUNTIME_FILES = re.compile(r"(^|/)(__pycache__/.*|finflo\.log)$")


def demonstration_lines() -> list[tuple[str, str, str]]:
    """(runbook, cell, line) for every command of every demo cell, as its page shows it."""
    lines = []
    for runbook in notebooks.all_runbooks():
        for cell in runbook.cells:
            if cell.role == "demo" and not cell.hidden:
                lines += [(runbook.slug, cell.id, line) for line in cell.commands_with(runbook.shown_values(cell))]
    return lines


def reader_project(engine: str, tmp_path: Path, venv: Path):
    """The reader's project (committed, migrated, holding their data) and its database."""
    root = tmp_path / "reader"
    (root / "home" / "backups").mkdir(parents=True)
    db_context = databases.scratch_database(engine, tmp_path, "fail_closed")
    db = db_context.__enter__()
    project = copy_sample_project(root / "myproject")
    (project / "config" / "sample_only.py").unlink()  # only the sample project has it
    reader = Reader(root, project, db.url, venv, backup_dir=root / "home" / "backups")
    if STYLES[engine] == "written in":
        _write_database_into_settings(project, engine, db)
        reader.database_url = ""  # the reader's shell exports no DATABASE_URL
    reader.git("add", "-A")
    reader.git("commit", "-qm", "the reader's project")
    reader.test_python("manage.py", "migrate", "-v", "0")
    reader.test_python(code=EXTRA_DATA)
    return reader, db_context


def _write_database_into_settings(project: Path, engine: str, db: databases.Database) -> None:
    settings = project / "config" / "settings.py"
    text = settings.read_text()
    start = text.index("DATABASES = {")
    end = text.index("\n}\n", start) + 3
    if engine == "sqlite":
        written = 'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}\n'
    else:
        written = ('DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", '
                   f'"NAME": "{db.name}", "HOST": "{db.host}", "PORT": "5432", "USER": "postgres"}}}}\n')
    settings.write_text(text[:start] + written + text[end:])


def snapshot(reader: Reader) -> dict[str, str]:
    """Every file of the project (but its SQLite database, compared row by row) and around it."""
    files = {}
    for path in sorted(reader.root.rglob("*")):
        relative = path.relative_to(reader.root).as_posix()
        if not path.is_file() or RUNTIME_FILES.search(relative) or relative == "myproject/db.sqlite3":
            continue
        if reader.backup_dir in path.parents or "/.git/" in f"/{relative}":
            continue  # $BACKUP_DIR is where a page may write; git's own bookkeeping (index stat) may change
        files[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    files["git status"] = reader.git("status", "--porcelain", "--untracked-files=all")
    return files


def differences(before: dict, after: dict) -> list[str]:
    found = [f"table {t}: rows differ" for t in sorted(set(before["tables"]) | set(after["tables"]))
             if before["tables"].get(t, {}).get("rows") != after["tables"].get(t, {}).get("rows")]
    if before["applied"] != after["applied"]:
        found.append("the applied migrations differ")
    if before["files"] != after["files"]:
        found += [f"file {name} changed" for name in sorted(set(before["files"]) | set(after["files"]))
                  if before["files"].get(name) != after["files"].get(name)]
    return found


def state(reader: Reader) -> dict:
    return {**measure(reader), "files": snapshot(reader)}


def test_every_demonstration_line_fails_closed_in_a_readers_project(engine, tmp_path, reader_venv):
    lines = demonstration_lines()
    assert len(lines) > 20, "no demonstrations found"
    reader, db_context = reader_project(engine, tmp_path, reader_venv)
    try:
        before = state(reader)
        ran = []
        for slug, cell, line in lines:
            result = reader.bash(line)
            ran.append(f"[{slug} › {cell}] exit {result.returncode}: {line[:140]}")
        after = state(reader)
    finally:
        db_context.__exit__(None, None, None)
    changed = differences(before, after)
    assert not changed, (f"{STYLES[engine]} settings on {engine}: copied demonstrations changed the reader's "
                         "project:\n  " + "\n  ".join(changed) + "\nlines that exited 0:\n  "
                         + "\n  ".join(r for r in ran if " exit 0:" in r))


def test_every_demonstration_names_its_mechanism_or_only_reads():
    """The static form of the same rule (pagecheck rule 4), for every demo cell, shown or not."""
    loose = [f"{runbook.slug} › {cell.id}" for runbook in notebooks.all_runbooks() for cell in runbook.cells
             if cell.role == "demo" and not cell.interactive and not pagecheck.fails_closed(cell)]
    assert loose == []


@pytest.mark.parametrize("engine", ["sqlite"])
def test_the_check_catches_a_demonstration_without_its_mechanism(engine, tmp_path, reader_venv):
    """A demonstration's flush with --settings=config.sample_only taken out (the review's E4: a
    THROWAWAY_DATABASE_URL= prefix alone, which the reader's settings never read): the comparison
    above must see the reader's data change (a check that cannot fail is not one)."""
    flushes = [line for _, _, line in demonstration_lines()
               if pagecheck.SAMPLE_ONLY_SETTINGS in line and re.search(r"manage\.py flush\b", line)]
    assert flushes, "no demonstration flushes a database any more: spoil another line that writes"
    spoiled = flushes[0].replace(f" {pagecheck.SAMPLE_ONLY_SETTINGS}", "")  # E4: the prefix alone
    reader, db_context = reader_project(engine, tmp_path, reader_venv)
    try:
        before = state(reader)
        reader.bash(spoiled)
        after = state(reader)
    finally:
        db_context.__exit__(None, None, None)
    assert any(d.startswith("table ") for d in differences(before, after)), spoiled
