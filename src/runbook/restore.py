"""How to restore a backup the runner took: in a work tree of the commit the backup was taken at.

A backup is the database's rows, which load only into the schema their migrations made. A
rollback's purpose is to remove migrations, and after the operator removes one from the project,
`migrate && loaddata` in the project makes a schema without it and loaddata fails (``Parties has
no field named 'base_currency'``). So the restore runs in ``git worktree add`` of the commit that
was checked out when the backup was taken, with the project's own settings, and the work tree is
removed afterwards. The lines are printed when the backup is taken and after the run, and kept in
the backup folder as ``restore.txt``.

The backup was verified with the project's files as they were when it was taken. When those differ
from the commit in what a restore reads (a tracked file changed or deleted, a new file in a
migrations folder: a procedure that rewrites migrations before it deletes data), the changed files
are copied beside the backup, into ``uncommitted/``, and the restore puts them over the work tree
of the commit (and deletes there what was deleted) before it migrates.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

from . import backup, databases

FILE = "restore.txt"
CHANGES = "uncommitted"  # beside the backup: the files that differed from the commit when it was taken


def head_commit(project: Path) -> str | None:
    """The commit checked out in ``project``, or None outside git (then there is no work tree to offer)."""
    if not project.is_dir():
        return None
    result = subprocess.run(["git", "rev-parse", "--verify", "HEAD"], cwd=project, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def restore_lines(folder: Path, project: Path, commit: str | None, database_url: str,
                  deleted: list[str] | None = None) -> list[str]:
    """The commands that restore the backup in ``folder`` into an empty database, one shell line each.
    With ``deleted`` (a list, maybe empty), the uncommitted changes copied by ``keep_uncommitted`` are
    put over the work tree first, and the files in ``deleted`` removed from it."""
    load = backup.restore_command(folder)
    if commit is None:
        return [f"cd {shlex.quote(str(project))} && {load}"]
    tree = folder / f"project-at-{commit[:12]}"
    q = lambda path: shlex.quote(str(path))  # noqa: E731
    lines = [f"git -C {q(project)} worktree add --detach {q(tree)} {commit}"]
    if deleted is not None:
        lines.append(f"cp -a {q(folder / CHANGES)}/. {q(tree)}/"
                     + (f" && cd {q(tree)} && rm -f -- {' '.join(map(q, deleted))}" if deleted else ""))
    return lines + [
        f"cd {q(tree)} && {_database_env(database_url, project)}{load}",
        f"git -C {q(project)} worktree remove --force {q(tree)}",
    ]


def explain(commit: str | None, uncommitted: bool = False) -> str:
    if commit is None:
        return "restore it on an empty database, in the project's folder:"
    if uncommitted:
        return (f"restore it on an empty database, with the migrations as they were when the backup was taken: "
                f"those of commit {commit[:12]} and the uncommitted changes copied to {CHANGES}/ beside the backup "
                "(they may be gone from your tree after the run), in a work tree of that commit:")
    return (f"restore it on an empty database, with the migrations of commit {commit[:12]} (checked out when the "
            "backup was taken; they may be gone from your tree after the run), in a work tree of that commit:")


def write(folder: Path, commit: str | None, lines: list[str], uncommitted: bool = False) -> Path:
    path = folder / FILE
    path.write_text(explain(commit, uncommitted) + "\n" + "".join(f"  {line}\n" for line in lines))
    return path


def keep_uncommitted(project: Path, folder: Path) -> list[str] | None:
    """Copy into ``folder``/uncommitted/ what a work tree of the checked-out commit lacks of the project
    as it is now, for a restore: changed tracked files, and new files in a migrations folder (a folder
    whose name ends in "migrations"; the run's scratch files elsewhere play no part in a restore).
    Returns the deleted tracked files (paths from the top of the git work tree), or None when nothing
    differs."""
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=project, capture_output=True, text=True)
    status = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "-z", "--untracked-files=all"],
                            cwd=project, capture_output=True, text=True)
    if top.returncode != 0 or status.returncode != 0:
        return None
    root = Path(top.stdout.strip())
    entries = iter(status.stdout.split("\0"))
    changed, deleted = [], []
    for entry in entries:
        if not entry:
            continue
        xy, path = entry[:2], entry[3:]
        if xy[0] in "RC":
            next(entries, None)  # the path it was renamed or copied from
        if xy == "??" and not any(part.endswith("migrations") for part in Path(path).parts[:-1]):
            continue
        (changed if (root / path).is_file() else deleted).append(path)
    if not changed and not deleted:
        return None
    for path in changed:
        target = folder / CHANGES / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / path, target)
    (folder / CHANGES).mkdir(exist_ok=True)
    return sorted(deleted)


def _database_env(url: str, project: Path) -> str:
    """A relative SQLite file would be looked for in the work tree: name it absolutely. A server's URL,
    which may hold a password, is left to the DATABASE_URL the operator exported for the run."""
    if databases.engine_of(url) != "sqlite":
        return ""
    path = unquote(urlsplit(url).path)[1:]
    return f"DATABASE_URL={shlex.quote('sqlite:///' + str((project / path).resolve()))} "
