"""Round-trip proof: the backup the runner takes before destroying anything gives back every row.

A realistic data set (users, parties with gaps in their ids, currencies, invoices each with finflo's
workflow rows, payments) is backed up with runbook.backup, the database is destroyed with the
runbooks' own step (`drop_tables`), migrated, and restored with the printed restore command. Every
table then has the same rows with the same values at full precision (per-table ordered-row sha256,
microseconds included), on every engine. The counter-run: the same data through dumpdata's default
JSON comes back with its datetimes cut to the millisecond.
"""
from __future__ import annotations

import json
import shlex

from runbook import backup
from runbook.databases import Database

INVOICES = 250  # the proof is per row and per table: more rows would only take longer
# Tables whose seeded rows carry timestamps with microseconds (timezone.now()): what a JSON dump loses.
WITH_SUB_MILLISECOND_TIMESTAMPS = {
    "accounts_user", "finflo_transitionmanager", "finflo_workflowitems", "finflo_workevents",
}


def test_a_destroyed_database_is_restored_row_for_row(project, engine, tmp_path):
    assert project.manage("migrate", "-v", "0").returncode == 0
    seeded = project.manage("seed_demo_data", "--invoices", str(INVOICES))
    assert seeded.returncode == 0, seeded.output
    precise = _fingerprint(project)
    to_the_ms = _fingerprint(project, "--milliseconds")
    rows = {t: v["rows"] for t, v in precise.items()}
    # finflo's signal gave each invoice its workflow: the seeding went through it.
    assert rows["transaction_invoice"] == rows["finflo_transitionmanager"] == rows["finflo_workflowitems"] \
        == rows["finflo_workevents"] == INVOICES
    assert sum(rows.values()) > 5 * INVOICES  # and the users, parties, currencies and payments around them

    taken = backup.take_verified(project.path, Database(project.database_url), tmp_path / "backups",
                                 tmp_path / "work", "roundtrip")
    assert taken.path.parent == tmp_path / "backups" and all(f.is_file() for f in backup.files(taken.path))
    assert taken.restore_command == "python manage.py migrate && python manage.py loaddata " + " ".join(
        shlex.quote(str(f)) for f in backup.files(taken.path))

    dropped = project.manage("drop_tables", "--noinput")
    assert dropped.returncode == 0 and "Dropped" in dropped.output, dropped.output
    assert _fingerprint(project) == {}  # nothing left: a real loss without the backup
    restored = project.run("bash", "-c", taken.restore_command.replace("python ", f"{shlex.quote(_python())} "))
    assert restored.returncode == 0, restored.output
    assert f"Installed {sum(rows[t] for t in rows if t not in backup.NOT_IN_BACKUP)} object(s)" in restored.output

    # Same tables, same row counts (finflo's signal added nothing during loaddata), same values to
    # the microsecond: no table left out.
    after = _fingerprint(project)
    assert {t: v["rows"] for t, v in after.items()} == rows
    assert _differing(precise, after) == []

    # Counter-run: the same data through dumpdata's default format, JSON, is the same only to the
    # millisecond; the tables with timestamps differ below it.
    json_backup = tmp_path / "backup.json"
    json_args = ["dumpdata", "--natural-foreign", *(a for e in backup.EXCLUDE for a in ("-e", e)), "-o", str(json_backup)]
    assert project.manage(*json_args).returncode == 0
    assert project.manage("drop_tables", "--noinput").returncode == 0
    assert project.manage("migrate", "-v", "0").returncode == 0
    loaded = project.manage("loaddata", str(json_backup))
    assert loaded.returncode == 0, loaded.output
    assert _differing(to_the_ms, _fingerprint(project, "--milliseconds")) == []
    assert set(_differing(precise, _fingerprint(project))) == WITH_SUB_MILLISECOND_TIMESTAMPS
    print(f"\nround trip on {engine}: {sum(rows.values())} rows in {len(rows)} tables identical at full "
          f"precision; through JSON, {len(WITH_SUB_MILLISECOND_TIMESTAMPS)} tables differ below the millisecond")


def _fingerprint(project, *options: str) -> dict[str, dict]:
    result = project.run(_python(), "-m", "runbook.fingerprint", "--exclude", "django_migrations", *options)
    assert result.returncode == 0, result.output
    return json.loads(result.output)


def _differing(before: dict, after: dict) -> list[str]:
    return sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))


def _python() -> str:
    import sys
    return sys.executable


# -- the runner's guard: a verified backup before the first destructive cell, in operator mode ----

def _operator_run(project, tmp_path, cells, *extra: str):
    import os
    import subprocess
    import sys

    from .conftest import REPO
    from .notebook_builder import write_runbook

    write_runbook(tmp_path / "runbooks", "wipe", cells, destructive=True)
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", "run", "wipe", "--project", str(project.path), "--database-url",
         project.database_url, "--allow-destructive", "--yes", "--backup-dir", str(tmp_path / "backups"), "-q",
         "--output", str(tmp_path / "wipe.ipynb"), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "RUNBOOK_DIR": str(tmp_path / "runbooks")},
    )


def test_the_runner_backs_up_and_verifies_before_the_first_destructive_cell(project, engine, tmp_path):
    from .notebook_builder import cell

    assert project.manage("migrate", "-v", "0").returncode == 0
    assert project.manage("seed_demo_data", "--invoices", "100").returncode == 0
    before = _fingerprint(project)
    result = _operator_run(project, tmp_path, [
        cell("look", "!python -m runbook.verify"),
        cell("drop", "!python manage.py drop_tables --noinput", destructive=True),
    ])
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    backups = list((tmp_path / "backups").glob(f"*/{project.path.name}-*/"))  # in the run's audit folder
    assert len(backups) == 1 and all(f.is_file() for f in backup.files(backups[0]))
    # The backup is verified and announced before the destructive cell runs, with its restore command.
    announced = next(i for i, ln in enumerate(lines) if ln.strip() == f"● backup: {backups[0]}")
    assert lines.index(next(ln for ln in lines if "✓ drop" in ln)) > announced
    assert any("backup verified: every value of the " in ln and "at full precision" in ln for ln in lines)
    restore = backup.restore_command(backups[0])
    assert any(ln.endswith(restore) for ln in lines)
    # The printed command restores every value, at full precision, into the dropped database.
    restored = project.run("bash", "-c", restore.replace("python ", f"{_python()} "))
    assert restored.returncode == 0, restored.output
    assert _fingerprint(project) == before


def test_a_backup_that_does_not_restore_stops_the_run_before_anything_is_destroyed(project, engine, tmp_path):
    from .notebook_builder import cell

    assert project.manage("migrate", "-v", "0").returncode == 0
    # A table Django does not know: dumpdata leaves it out, so the backup cannot give it back.
    made = project.manage("shell", "-c", "from django.db import connection; c = connection.cursor(); "
                          "c.execute('CREATE TABLE legacy_notes (id INTEGER PRIMARY KEY, body VARCHAR(50))'); "
                          "c.execute(\"INSERT INTO legacy_notes VALUES (1, 'keep me')\")")
    assert made.returncode == 0, made.output
    result = _operator_run(project, tmp_path, [
        cell("drop", "!python manage.py drop_tables --noinput", destructive=True),
    ])
    assert result.returncode == 1, result.stdout + result.stderr
    assert (f"runbook 'wipe', cell 'drop' on {engine}: backup not verified, so nothing was destroyed: restoring "
            "the backup") in result.stdout
    assert "table legacy_notes: 1 rows in the database, no table after the restore" in result.stdout
    assert "Dropped" not in result.stdout
    assert _fingerprint(project)["legacy_notes"]["rows"] == 1  # nothing destroyed
    assert len(list((tmp_path / "backups").glob(f"*/{project.path.name}-*/{backup.FIRST_APP}.xml"))) == 1  # kept, never deleted
