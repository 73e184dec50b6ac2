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


def test_uncommitted_migrations_go_beside_the_backup_and_over_the_work_tree(tmp_path):
    """A procedure that rewrites migrations before it deletes data: the backup was verified with the
    rewritten files, which a work tree of the commit lacks (its own migrations may not even load)."""
    project, folder = tmp_path / "my app", tmp_path / "backup"
    for path, text in (("config/settings.py", "A = 1\n"), ("shop/migrations/0001_initial.py", "old\n"),
                       ("shop/migrations/0002_gone.py", "gone\n")):
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text)
    git = lambda *a: subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b", *a], cwd=project,  # noqa: E731
                                    check=True, capture_output=True)
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "x")
    assert restore.keep_uncommitted(project, folder) is None  # as committed: the work tree of the commit will do
    (project / "config/settings.py").write_text("A = 2\n")
    (project / "shop/migrations/0001_initial.py").write_text("split\n")
    (project / "shop/migrations/0002_gone.py").unlink()
    (project / "shop/migrations/0003_links.py").write_text("new\n")
    (project / "finflo_migrations").mkdir()
    (project / "finflo_migrations/__init__.py").write_text("")
    (project / "config/scratch_settings.py").write_text("scratch\n")  # the run's own file: no part of a restore
    deleted = restore.keep_uncommitted(project, folder)
    assert deleted == ["shop/migrations/0002_gone.py"]
    kept = sorted(str(p.relative_to(folder / restore.CHANGES)) for p in (folder / restore.CHANGES).rglob("*") if p.is_file())
    assert kept == ["config/settings.py", "finflo_migrations/__init__.py", "shop/migrations/0001_initial.py",
                    "shop/migrations/0003_links.py"]
    assert (folder / restore.CHANGES / "shop/migrations/0001_initial.py").read_text() == "split\n"
    lines = restore.restore_lines(folder, project, COMMIT, "sqlite:////data/own.sqlite3", deleted)
    tree = f"{folder}/project-at-0123456789ab"
    assert lines[1] == f"cp -a {folder}/uncommitted/. {tree}/ && cd {tree} && rm -f -- shop/migrations/0002_gone.py"
    assert lines[2].startswith(f"cd {tree} && DATABASE_URL=sqlite:////data/own.sqlite3 python manage.py migrate && ")
    assert "the uncommitted changes copied to uncommitted/ beside the backup" in restore.explain(COMMIT, True)
