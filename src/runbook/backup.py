"""A verified, restorable backup of a project's database, taken before a runbook destroys anything.

The backup is the backup-and-restore runbook's own two commands, into a folder of its own::

    python manage.py dumpdata finflo --format xml --natural-foreign -o FOLDER/finflo.xml
    python manage.py dumpdata --format xml --natural-foreign -e finflo -e contenttypes -e auth.Permission -e sessions -o FOLDER/other-apps.xml

restored by one ``loaddata FOLDER/finflo.xml FOLDER/other-apps.xml``: finflo's rows load first, so
that finflo's post_save signal (which ignores ``raw=True``) finds each work-model row's workflow
already there and adds none, whatever order the project's INSTALLED_APPS gives a single dump; one
call, because finflo's rows refer to users and parties of the second file (loaddata resolves those
forward references, and checks foreign keys, at the end of the call).

XML, not dumpdata's default JSON: Django's JSON serializer writes datetimes to the millisecond
(DjangoJSONEncoder cuts the last three digits of the microseconds), its XML serializer writes them
in full. No ``--natural-primary``, which re-numbers rows that finflo's JSON records refer to by id.
It is verified by restoring it: a scratch database on the same server is migrated with the
project's own migrations, the backup is loaded into it, and then

- every table has as many rows as the operator's database (finflo's post_save signal ignores
  ``raw=True``: a row it added during ``loaddata`` would show here), and
- every table holds the same values as the operator's database, at full precision (per-table
  sha256 of the rows in primary-key order, ``python -m runbook.fingerprint``).

Only then does the runbook go on.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import databases
from .errors import BadInput

EXCLUDE = ("contenttypes", "auth.Permission", "sessions")
FORMAT = "xml"  # keeps microseconds; dumpdata's default, json, cuts datetimes to the millisecond
FIRST_APP = "finflo"  # its rows load before any work model's (see above)
# Tables a restore does not take from the backup, so neither their counts nor their values are
# compared: `migrate` re-creates content types and permissions with ids of Django's choosing (the
# backup names them by natural key) and records in django_migrations when it applied each
# migration to the scratch database; sessions are left out of the backup.
NOT_IN_BACKUP = frozenset({"django_content_type", "auth_permission", "django_session", "django_migrations"})
COMMAND_TIMEOUT = 1800


class BackupNotVerified(Exception):
    """The backup could not be taken, or restoring it does not give back the same rows."""


@dataclass
class Backup:
    path: Path  # the backup's folder: files(path), loaded in that order
    rows: dict[str, int]  # per table, as in the operator's database when the backup was taken
    sha256: str  # of the backup's files, in order
    checks: list[str] = field(default_factory=list)

    @property
    def restore_command(self) -> str:
        return restore_command(self.path)


def files(folder: Path) -> list[Path]:
    """A backup's files, in the order they are loaded: finflo's rows, then every other app's."""
    return [folder / f"{FIRST_APP}.{FORMAT}", folder / f"other-apps.{FORMAT}"]


def dumpdata_args(folder: Path) -> list[list[str]]:
    """The two dumpdata commands' arguments, one per file of ``files(folder)``."""
    first, rest = files(folder)
    others = ["-e", FIRST_APP]
    for label in EXCLUDE:
        others += ["-e", label]
    return [["dumpdata", FIRST_APP, "--format", FORMAT, "--natural-foreign", "-o", str(first)],
            ["dumpdata", "--format", FORMAT, "--natural-foreign", *others, "-o", str(rest)]]


def restore_command(folder: Path) -> str:
    """What the operator types, in the project's folder, on an empty database (loaddata reads the
    format from the files' extension)."""
    return "python manage.py migrate && python manage.py loaddata " + " ".join(
        shlex.quote(str(f)) for f in files(folder))


def check_folder(folder: Path, project: Path) -> Path:
    """The folder backups go to, made if missing; BadInput when it is inside the project or not writable."""
    folder = folder.expanduser().resolve()
    project = project.resolve()
    if folder == project or project in folder.parents:
        raise BadInput(f"--backup-dir {folder} is inside the project {project}: backups go outside it")
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise BadInput(f"--backup-dir {folder}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BadInput(f"--backup-dir {folder} is not writable")
    return folder


def backup_folder(folder: Path, project: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{project.name}-{stamp}"
    n = 1
    while path.exists():  # two backups in one second: never overwrite one
        n += 1
        path = folder / f"{project.name}-{stamp}-{n}"
    return path


def take_verified(project: Path, database: databases.Database, folder: Path, work: Path, label: str) -> Backup:
    """Back up ``database`` into ``folder`` and prove the backup restores; raise BackupNotVerified if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupNotVerified(f"cannot make the backup folder {folder}: {exc.strerror}") from None
    path = backup_folder(folder, project)
    path.mkdir()
    before = fingerprint(project, database.url)
    for args in dumpdata_args(path):
        manage(project, database.url, *args)
    sha256 = hashlib.sha256(b"".join(f.read_bytes() for f in files(path))).hexdigest()
    backup = Backup(path, {t: v["rows"] for t, v in before.items()}, sha256)
    server = None if database.engine == "sqlite" else _maintenance(database)
    scratch_folder = work / f"verify-{path.name}"
    scratch_folder.mkdir(parents=True, exist_ok=True)
    try:
        with databases.scratch_database(database.engine, scratch_folder, f"{label}_backup", server) as scratch:
            manage(project, scratch.url, "migrate", "--noinput", "-v", "0")
            manage(project, scratch.url, "loaddata", *map(str, files(path)), "-v", "0")
            after = fingerprint(project, scratch.url)
    except BadInput as exc:  # the server refuses a scratch database
        raise BackupNotVerified(f"no scratch database to verify the backup in: {exc}") from None
    problems = compare_rows(backup.rows, {t: v["rows"] for t, v in after.items()}) + compare_values(before, after)
    if problems:
        raise BackupNotVerified(f"restoring the backup {path} does not give back the same data: " + "; ".join(problems))
    data_tables = [t for t in backup.rows if t not in NOT_IN_BACKUP]
    backup.checks = [
        f"{len(data_tables)} tables, {sum(backup.rows[t] for t in data_tables)} rows: same counts after a restore",
        f"every value of the {len(data_tables)} tables equal after a restore, at full precision "
        f"(backup sha256 {backup.sha256[:12]})",
    ]
    return backup


def compare_rows(before: dict[str, int], after: dict[str, int]) -> list[str]:
    problems = []
    for table in sorted(set(before) | set(after)):
        if table in NOT_IN_BACKUP:
            continue
        b, a = before.get(table), after.get(table)
        if b != a:
            problems.append(f"table {table}: {'no table' if b is None else b} rows in the database, "
                            f"{'no table' if a is None else a} after the restore")
    return problems


def compare_values(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """Tables with as many rows on both sides whose ordered rows differ (compare_rows names the others)."""
    return [f"table {table}: values differ after the restore" for table in sorted(set(before) & set(after))
            if table not in NOT_IN_BACKUP and before[table]["rows"] == after[table]["rows"]
            and before[table]["sha256"] != after[table]["sha256"]]


def fingerprint(project: Path, database_url: str, *extra: str) -> dict[str, dict]:
    """``python -m runbook.fingerprint`` in the project: row count and ordered-row hash per table."""
    out = _run(project, database_url, [sys.executable, "-m", "runbook.fingerprint", *extra])
    return json.loads(out)


def manage(project: Path, database_url: str, *args: str) -> str:
    return _run(project, database_url, [sys.executable, "manage.py", *args])


def _run(project: Path, database_url: str, argv: list[str]) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        proc = subprocess.run(argv, cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BackupNotVerified(f"`{_shown(argv)}` took more than {COMMAND_TIMEOUT}s") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise BackupNotVerified(f"`{_shown(argv)}` failed (exit {proc.returncode}): {lines[-1] if lines else ''}")
    return proc.stdout


def _shown(argv: list[str]) -> str:
    return " ".join(["python", *argv[1:]])


def _maintenance(database: databases.Database) -> databases.Database:
    """The operator's server, with the database one connects to in order to create others."""
    return database.with_name("postgres" if database.engine == "postgresql" else "")
