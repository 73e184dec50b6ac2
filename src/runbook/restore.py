"""How to restore a backup the runner took: in a work tree of the commit the backup was taken at.

A backup is the database's rows, which load only into the schema their migrations made. A
rollback's purpose is to remove migrations, and after the operator removes one from the project,
`migrate && loaddata` in the project makes a schema without it and loaddata fails (``Parties has
no field named 'base_currency'``). So the restore runs in ``git worktree add`` of the commit that
was checked out when the backup was taken, with the project's own settings, and the work tree is
removed afterwards. The lines are printed when the backup is taken and after the run, and kept in
the backup folder as ``restore.txt``.
"""
from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

from . import backup, databases

FILE = "restore.txt"


def head_commit(project: Path) -> str | None:
    """The commit checked out in ``project``, or None outside git (then there is no work tree to offer)."""
    if not project.is_dir():
        return None
    result = subprocess.run(["git", "rev-parse", "--verify", "HEAD"], cwd=project, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def restore_lines(folder: Path, project: Path, commit: str | None, database_url: str) -> list[str]:
    """The commands that restore the backup in ``folder`` into an empty database, one shell line each."""
    load = backup.restore_command(folder)
    if commit is None:
        return [f"cd {shlex.quote(str(project))} && {load}"]
    tree = folder / f"project-at-{commit[:12]}"
    q = lambda path: shlex.quote(str(path))  # noqa: E731
    return [
        f"git -C {q(project)} worktree add --detach {q(tree)} {commit}",
        f"cd {q(tree)} && {_database_env(database_url, project)}{load}",
        f"git -C {q(project)} worktree remove --force {q(tree)}",
    ]


def explain(commit: str | None) -> str:
    if commit is None:
        return "restore it on an empty database, in the project's folder:"
    return (f"restore it on an empty database, with the migrations of commit {commit[:12]} (checked out when the "
            "backup was taken; they may be gone from your tree after the run), in a work tree of that commit:")


def write(folder: Path, commit: str | None, lines: list[str]) -> Path:
    path = folder / FILE
    path.write_text(explain(commit) + "\n" + "".join(f"  {line}\n" for line in lines))
    return path


def _database_env(url: str, project: Path) -> str:
    """A relative SQLite file would be looked for in the work tree: name it absolutely. A server's URL,
    which may hold a password, is left to the DATABASE_URL the operator exported for the run."""
    if databases.engine_of(url) != "sqlite":
        return ""
    path = unquote(urlsplit(url).path)[1:]
    return f"DATABASE_URL={shlex.quote('sqlite:///' + str((project / path).resolve()))} "
