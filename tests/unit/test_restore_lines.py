"""The restore lines printed after an operator run: a work tree of the backup's commit, the right database."""
from __future__ import annotations

import subprocess
from pathlib import Path

from runbook import restore

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_with_a_commit_the_restore_runs_in_a_work_tree_of_it_and_removes_it():
    lines = restore.restore_lines(Path("/audit/own-1"), Path("/srv/my app"), COMMIT, "postgres://me:secret@db/own")
    tree = "/audit/own-1/project-at-0123456789ab"
    assert lines == [
        f"git -C '/srv/my app' worktree add --detach {tree} {COMMIT}",
        f"cd {tree} && python manage.py migrate && python manage.py loaddata /audit/own-1/finflo.xml "
        "/audit/own-1/other-apps.xml",
        f"git -C '/srv/my app' worktree remove --force {tree}",
    ]
    assert "secret" not in "".join(lines)  # a server's URL stays in the operator's DATABASE_URL


def test_a_sqlite_file_is_named_absolutely_so_the_work_tree_does_not_make_its_own():
    relative = restore.restore_lines(Path("/a/b"), Path("/srv/app"), COMMIT, "sqlite:///db.sqlite3")[1]
    absolute = restore.restore_lines(Path("/a/b"), Path("/srv/app"), COMMIT, "sqlite:////data/own.sqlite3")[1]
    assert " && DATABASE_URL=sqlite:////srv/app/db.sqlite3 python manage.py migrate && " in relative
    assert " && DATABASE_URL=sqlite:////data/own.sqlite3 python manage.py migrate && " in absolute


def test_the_explanation_names_the_commit(tmp_path):
    assert "with the migrations of commit 0123456789ab " in restore.explain(COMMIT)
    written = restore.write(tmp_path, COMMIT, ["one", "two"])
    assert written.read_text() == restore.explain(COMMIT) + "\n  one\n  two\n"


def test_the_head_commit_of_a_work_tree_and_none_outside_one(tmp_path):
    assert restore.head_commit(tmp_path / "missing") is None
    assert restore.head_commit(tmp_path) is None
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "x"],
                   cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert restore.head_commit(tmp_path) == head
