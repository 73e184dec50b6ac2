"""A verified, restorable backup of a project's database, taken before a runbook destroys anything.

The backup is the backup-and-restore runbook's own command::

    python manage.py dumpdata --natural-foreign -e contenttypes -e auth.Permission -e sessions -o FILE

(without ``--natural-primary``, which re-numbers rows that finflo's JSON records refer to by id).
It is verified by restoring it: a scratch database on the same server is migrated with the
project's own migrations, the backup is loaded into it, and then

- every table has as many rows as the operator's database (finflo's post_save signal ignores
  ``raw=True``: a row it added during ``loaddata`` would show here), and
- a new dump of the scratch database is the same JSON as the backup (sha256 of canonical JSON).

Only then does the runbook go on. Known limit: Django's JSON serializer keeps datetimes to the
millisecond, so sub-millisecond digits of timestamps are not in the backup.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import databases
from .errors import BadInput

EXCLUDE = ("contenttypes", "auth.Permission", "sessions")
# Tables a restore does not take from the backup: `migrate` fills them (or they are left out).
NOT_IN_BACKUP = frozenset({"django_content_type", "auth_permission", "django_session", "django_migrations"})
COMMAND_TIMEOUT = 1800


class BackupNotVerified(Exception):
    """The backup could not be taken, or restoring it does not give back the same rows."""


@dataclass
class Backup:
    path: Path
    rows: dict[str, int]  # per table, as in the operator's database when the backup was taken
    sha256: str  # of the backup's canonical JSON
    checks: list[str] = field(default_factory=list)

    @property
    def restore_command(self) -> str:
        return restore_command(self.path)


def default_folder() -> Path:
    return Path.home() / ".runbook" / "backups"


def dumpdata_args(output: Path) -> list[str]:
    args = ["dumpdata", "--natural-foreign"]
    for label in EXCLUDE:
        args += ["-e", label]
    return args + ["-o", str(output)]


def restore_command(path: Path) -> str:
    """What the operator types, in the project's folder, on an empty database."""
    return f"python manage.py migrate && python manage.py loaddata {shlex.quote(str(path))}"


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


def backup_file(folder: Path, project: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{project.name}-{stamp}.json"
    n = 1
    while path.exists():  # two backups in one second: never overwrite one
        n += 1
        path = folder / f"{project.name}-{stamp}-{n}.json"
    return path


def take_verified(project: Path, database: databases.Database, folder: Path, work: Path, label: str) -> Backup:
    """Back up ``database`` into ``folder`` and prove the backup restores; raise BackupNotVerified if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupNotVerified(f"cannot make the backup folder {folder}: {exc.strerror}") from None
    path = backup_file(folder, project)
    before = fingerprint(project, database.url)
    manage(project, database.url, *dumpdata_args(path))
    backup = Backup(path, {t: v["rows"] for t, v in before.items()}, canonical_sha256(path))
    server = None if database.engine == "sqlite" else _maintenance(database)
    scratch_folder = work / f"verify-{path.stem}"
    scratch_folder.mkdir(parents=True, exist_ok=True)
    try:
        with databases.scratch_database(database.engine, scratch_folder, f"{label}_backup", server) as scratch:
            manage(project, scratch.url, "migrate", "--noinput", "-v", "0")
            manage(project, scratch.url, "loaddata", str(path), "-v", "0")
            after = fingerprint(project, scratch.url)
            redump = scratch_folder / "redump.json"
            manage(project, scratch.url, *dumpdata_args(redump))
            redump_sha = canonical_sha256(redump)
    except BadInput as exc:  # the server refuses a scratch database
        raise BackupNotVerified(f"no scratch database to verify the backup in: {exc}") from None
    problems = compare_rows(backup.rows, {t: v["rows"] for t, v in after.items()})
    if redump_sha != backup.sha256:
        problems.append("a dump of the restored copy differs from the backup")
    if problems:
        raise BackupNotVerified(f"restoring the backup {path} does not give back the same data: " + "; ".join(problems))
    data_tables = [t for t in backup.rows if t not in NOT_IN_BACKUP]
    backup.checks = [
        f"{len(data_tables)} tables, {sum(backup.rows[t] for t in data_tables)} rows: same counts after a restore",
        f"a dump of the restored copy equals the backup (sha256 {backup.sha256[:12]})",
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


def canonical_sha256(path: Path) -> str:
    """sha256 of the dump with sorted keys and each datetime as loaddata reads it back.

    DjangoJSONEncoder writes a datetime whose microseconds are below 1000 as "….000"; loaded, it has
    none, and a new dump writes no fraction: the same value, two spellings.
    """
    data = json.loads(path.read_text(encoding="utf-8"), object_hook=_same_datetime_spelling)
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def _same_datetime_spelling(obj: dict) -> dict:
    return {k: _ZERO_MS.sub(r"\1", v) if isinstance(v, str) else v for k, v in obj.items()}


_ZERO_MS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.000(?=Z$|[+-]\d\d:\d\d$|$)")


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
