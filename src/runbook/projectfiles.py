"""The operator's files: a git work tree, its uncommitted changes, and what a run may change.

Against ``--project`` the runner refuses a folder that is not in a git work tree, or one with
uncommitted or untracked changes unless the operator allows them. Before the run it copies every
file the procedure declares it may write (``runbook.writes``) into the run's folder; after the run
it compares every file of the project with a snapshot taken before, and any change the runbook
does not declare fails the run.
"""
from __future__ import annotations

import fnmatch
import hashlib
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from .errors import BadInput
from .notebooks import Runbook

# Written by Python and by the app itself while it runs; never the operator's work.
_IGNORED_DIRS = {".git", "__pycache__"}
_IGNORED_SUFFIXES = (".pyc", ".log", "-journal", "-wal", "-shm")


def uncommitted_changes(project: Path) -> list[str]:
    """``git status`` of the project's folder, one path per change; BadInput outside a git work tree."""
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=project, capture_output=True, text=True)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise BadInput(f"{project} is not in a git work tree: commit your project to git first, so that "
                       "every file a runbook changes can be seen and put back")
    status = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=all", "--", "."], cwd=project,
                            capture_output=True, text=True, check=True)
    return [line[3:] for line in status.stdout.splitlines() if line.strip()]


def declared_writes(runbook: Runbook, values: dict[str, object] | None = None) -> list[str]:
    """The files the procedure may write, with the operator's names (``values``) filled in."""
    values = runbook.defaults if values is None else values
    return sorted({pattern for cell in runbook.operator_cells for pattern in cell.writes_with(values)})


def snapshot(project: Path, skip: set[Path] = frozenset()) -> dict[str, str]:
    """sha256 of every file under the project (but .git, bytecode, logs and the database files in ``skip``)."""
    files: dict[str, str] = {}
    for folder, dirs, names in os.walk(project):
        dirs[:] = [d for d in dirs if d not in _IGNORED_DIRS]
        for name in names:
            path = Path(folder) / name
            if name.endswith(_IGNORED_SUFFIXES) or path in skip or path.is_symlink():
                continue
            files[str(path.relative_to(project))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def copy_declared(project: Path, files: dict[str, str], patterns: list[str], dest: Path) -> list[str]:
    """Copy the project's ``files`` (a snapshot) that the runbook may change into ``dest``, keeping their paths."""
    copied = []
    for rel in sorted(files):
        if _matches(rel, patterns):
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(project / rel, target)
            copied.append(rel)
    return copied


def changes(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(p for p in set(before) & set(after) if before[p] != after[p]),
    }


def undeclared(diff: dict[str, list[str]], patterns: list[str]) -> list[str]:
    return [f"{kind} {path}" for kind, paths in diff.items() for path in paths if not _matches(path, patterns)]


def restore_commands(project: Path, copies: Path, diff: dict[str, list[str]]) -> list[str]:
    """Shell commands that put the project's files back as they were before the run."""
    q = shlex.quote
    back = diff["changed"] + diff["removed"]
    copied = [p for p in back if (copies / p).is_file()]
    tracked = [p for p in back if p not in copied]
    commands = [f"cp -a {q(str(copies / p))} {q(str(project / p))}" for p in copied]
    if tracked:  # not copied: committed files, which git has
        commands.append(f"git -C {q(str(project))} restore -- " + " ".join(q(p) for p in tracked))
    if diff["added"]:
        commands.append(f"cd {q(str(project))} && rm -- " + " ".join(q(p) for p in diff["added"]))
    return commands


def _matches(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)
