"""What stands between a destructive runbook and an operator's data.

Before anything runs (bad input, exit 2, nothing changed):

- a destructive runbook runs against ``--project`` only with ``--allow-destructive``;
- and only on a database on this machine (localhost, 127.0.0.1, ::1 or a unix socket) unless
  ``--allow-remote-database`` is given too;
- ``-p`` sets only parameters the runbook's ``parameters`` cell declares, never the ones the runner
  injects (``project_dir``, ``database_url``);
- ``--backup-dir`` is writable and outside the project.

At run time, before the first destructive cell (or, in a destructive runbook that marks none, its
first command), :class:`BackupBeforeDestruction` takes a backup and proves it restores
(``runbook.backup``). If it cannot, the run stops there (exit 1) and nothing has been destroyed.
"""
from __future__ import annotations

import ast
import ipaddress
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

from . import backup, databases, paths, restore
from .errors import BadInput, RunbookFailed
from .notebooks import Cell, Runbook

INJECTED = ("project_dir", "database_url")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_destructive(runbook: Runbook) -> bool:
    """Deletes data or migrations against an operator's project (demo cells do not run there)."""
    return runbook.operator_destructive or (runbook.destructive and not any(c.destructive for c in runbook.cells))


def first_destructive_cell(runbook: Runbook) -> Cell | None:
    """The cell before which a backup is taken: the first marked one that runs for an operator, else the first command."""
    marked = next((c for c in runbook.operator_cells if c.destructive), None)
    if marked or not is_destructive(runbook):
        return marked
    return next((c for c in runbook.operator_cells if c.commands and not c.is_parameters), None)


def check_run(runbook: Runbook, *, project: Path | None, database_url: str | None, allow_destructive: bool,
              allow_remote: bool, backup_dir: Path | None) -> None:
    """Refuse, with BadInput, a run that could destroy data it should not."""
    if database_url:
        check_database_url(database_url)
    if project is None or not is_destructive(runbook):
        return
    if not allow_destructive:
        raise BadInput(
            f"runbook {runbook.slug!r} deletes data or migrations; against your own project it runs "
            "only with --allow-destructive"
        )
    if database_url and not allow_remote and not is_local(database_url):
        raise BadInput(
            f"runbook {runbook.slug!r} deletes data, and the database is on another host "
            f"({databases.Database(database_url).host}); to run it there anyway, add --allow-remote-database"
        )
    backup.check_folder(backup_dir or paths.AUDIT_ROOT, project)


def check_database_url(url: str) -> None:
    """A URL Django can use: known scheme, a database name, a numeric port."""
    engine = databases.engine_of(url)
    parts = urlsplit(url)
    try:
        parts.port
    except ValueError:
        raise BadInput(f"malformed database URL: the port is not a number (in {_masked(url)})") from None
    if engine == "sqlite":
        if parts.path in ("", "/"):
            raise BadInput(f"malformed database URL {_masked(url)}: no SQLite file, e.g. sqlite:////abs/path/db.sqlite3")
    elif not parts.path.strip("/"):
        raise BadInput(f"malformed database URL {_masked(url)}: no database name after the host, e.g. "
                       f"{parts.scheme}://user@localhost/mydb")


def is_local(url: str) -> bool:
    """True for SQLite, a unix socket, and loopback addresses."""
    if databases.engine_of(url) == "sqlite":
        return True
    parts = urlsplit(url)
    host = unquote(parts.hostname or "")
    query_host = parse_qs(parts.query).get("host", [""])[0]
    if not host:
        host = query_host
    if not host or host.startswith("/"):
        return True  # the default or a named unix socket
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_parameters(runbook: Runbook, params: dict[str, str]) -> None:
    """Every ``-p`` names a parameter of the runbook's ``parameters`` cell; the runner's own are refused."""
    declared = declared_parameters(runbook)
    for name in params:
        if name in INJECTED:
            option = "--project" if name == "project_dir" else "--database-url"
            raise BadInput(f"parameter {name!r} is set by the runner: use {option} instead of -p {name}=…")
        if name not in declared:
            shown = ", ".join(n for n in declared if n not in INJECTED) or "none besides project_dir and database_url"
            raise BadInput(f"runbook {runbook.slug!r} has no parameter {name!r} (its parameters: {shown})")


def declared_parameters(runbook: Runbook) -> list[str]:
    cell = next((c for c in runbook.cells if c.is_parameters), None)
    if cell is None:
        return []
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        raise BadInput(f"runbook {runbook.slug!r}: its parameters cell is not valid Python") from None
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


class BackupBeforeDestruction:
    """Called before each cell; before the first destructive one it takes and verifies a backup."""

    def __init__(self, runbook: Runbook, engine: str, project: Path, database: databases.Database,
                 folder: Path, work: Path, note: Callable[[str], None], clean: Callable[[str], str]):
        self.runbook, self.engine, self.project, self.database = runbook, engine, project, database
        self.folder, self.work, self.note, self.clean = folder, work, note, clean
        self.first = first_destructive_cell(runbook)
        self.backup: backup.Backup | None = None

    def before(self, cell: Cell) -> None:
        if self.first is None or self.backup is not None or cell.index < self.first.index:
            return
        where = f"runbook {self.runbook.slug!r}, cell {cell.id!r} on {self.engine}"
        self.note(f"backing up the database before {cell.id!r}, the first cell that deletes data …")
        try:
            self.backup = backup.take_verified(self.project, self.database, self.folder, self.work, self.runbook.slug)
        except (backup.BackupNotVerified, databases.DropFailed) as exc:
            raise RunbookFailed(self.clean(f"{where}: backup not verified, so nothing was destroyed: {exc}")) from None
        for check in self.backup.checks:
            self.note(f"backup verified: {check}")
        self.note(f"backup: {self.backup.path}")
        commit = restore.head_commit(self.project)
        # The backup was verified with the files as they are: uncommitted migrations go beside it.
        deleted = restore.keep_uncommitted(self.project, self.backup.path) if commit else None
        lines = restore.restore_lines(self.backup.path, self.project, commit, self.database.url, deleted)
        restore.write(self.backup.path, commit, lines, deleted is not None)
        self.note(restore.explain(commit, deleted is not None))
        for line in lines:
            self.note(f"  {line}")


def _masked(url: str) -> str:
    from .scrub import scrub
    return scrub(url)
