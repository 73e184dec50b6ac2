"""Round-trip proof: the backup the runner takes before destroying anything gives back every row.

A realistic data set (users, parties with gaps in their ids, currencies, invoices each with finflo's
workflow rows, payments) is backed up with runbook.backup, the database is destroyed with the
runbooks' own step (`drop_tables`), migrated, and restored with the printed restore command. Every
table then has the same rows in the same order (per-table ordered-row sha256), on every engine.
"""
from __future__ import annotations

import json
import shlex

from runbook import backup
from runbook.databases import Database

INVOICES = 1000
# Django's JSON serializer writes datetimes to the millisecond (DjangoJSONEncoder): the digits below
# are not in any dumpdata backup. Tables whose timestamps have them differ only there.
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
    assert sum(rows.values()) > 5000

    taken = backup.take_verified(project.path, Database(project.database_url), tmp_path / "backups",
                                 tmp_path / "work", "roundtrip")
    assert taken.path.parent == tmp_path / "backups" and taken.path.is_file()
    assert taken.restore_command == f"python manage.py migrate && python manage.py loaddata {shlex.quote(str(taken.path))}"

    dropped = project.manage("drop_tables", "--noinput")
    assert dropped.returncode == 0 and "Dropped" in dropped.output, dropped.output
    assert _fingerprint(project) == {}  # nothing left: a real loss without the backup
    restored = project.run("bash", "-c", taken.restore_command.replace("python ", f"{shlex.quote(_python())} "))
    assert restored.returncode == 0, restored.output
    assert f"Installed {sum(rows[t] for t in rows if t not in backup.NOT_IN_BACKUP)} object(s)" in restored.output

    after_to_the_ms = _fingerprint(project, "--milliseconds")
    after = _fingerprint(project)
    # Same tables, same row counts (finflo's signal added nothing during loaddata), same rows.
    assert {t: v["rows"] for t, v in after.items()} == rows
    assert _differing(to_the_ms, after_to_the_ms) == []
    # Exactly: identical except for the sub-millisecond digits of timestamps, which dumpdata drops.
    assert set(_differing(precise, after)) <= WITH_SUB_MILLISECOND_TIMESTAMPS
    print(f"\nround trip on {engine}: {sum(rows.values())} rows in {len(rows)} tables identical "
          f"(to the millisecond); tables differing below the millisecond: {_differing(precise, after)}")


def _fingerprint(project, *options: str) -> dict[str, dict]:
    result = project.run(_python(), "-m", "runbook.fingerprint", "--exclude", "django_migrations", *options)
    assert result.returncode == 0, result.output
    return json.loads(result.output)


def _differing(before: dict, after: dict) -> list[str]:
    return sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))


def _python() -> str:
    import sys
    return sys.executable
