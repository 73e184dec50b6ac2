"""What a reader of how-to/rollback-migrations (and its explanation page) checks."""
import re

from .conftest import failed_as_expected, operation, succeeded

SLUG = "rollback-migrations"
PROVEN = "every value of every table came back in the scratch database"


def _index(record, cell_id):
    return [c.id for c in record.cells].index(cell_id)


def test_the_backup_is_proven_in_a_scratch_database_before_anything_is_dropped(record_of):
    record = record_of(SLUG)
    # The backup page's backup: finflo's file, then the other apps' (which names the proxy it leaves to finflo's).
    # (The line of dumpdata.py that warns differs between Django versions.)
    warnings = [ln for ln in succeeded(record.cell("rollback-backup")) if "Warning" in ln]
    assert len(warnings) == 1 and re.fullmatch(
        r"<site-packages>/django/core/management/commands/dumpdata\.py:\d+: ProxyModelWarning: "
        r"accounts\.PartyAction is a proxy model and won't be serialized\.", warnings[0]), warnings
    assert succeeded(record.cell("scratch-settings"))[-1] == \
        """DATABASES = {"default": {**DATABASES["default"], "NAME": f"{DATABASES['default']['NAME']}_scratch"}}"""
    assert re.fullmatch(r"scratch database: \S+_scratch", succeeded(record.cell("scratch-create"))[-1])
    assert succeeded(record.cell("scratch-load"))[-1].endswith(" object(s) from 2 fixture(s)")
    assert succeeded(record.cell("scratch-compare")) == [PROVEN]
    assert _index(record, "scratch-compare") < _index(record, "migrate-rollback")
    # The comparison can fail: a write after the backup is named, table by table.
    lines = failed_as_expected(record.cell("scratch-compare-fails"))
    assert lines == ["FAILED: transaction_invoice differs in the scratch database"]
    assert succeeded(record.cell("scratch-compare-again")) == [PROVEN]


def test_the_sql_and_the_plan_are_read_then_only_the_migration_is_unapplied(record_of):
    record = record_of(SLUG)
    sql = succeeded(record.cell("sqlmigrate-backwards"))
    assert [ln for ln in sql if "DROP COLUMN" in ln and "due_on" in ln], sql
    assert succeeded(record.cell("rollback-plan")) == [
        "Planned operations:", "transaction.0002_invoice_due_on", "    Undo Add field due_on to invoice"]
    unapplied = [ln for ln in succeeded(record.cell("migrate-rollback")) if "Unapplying" in ln]
    assert unapplied == ["  Unapplying transaction.0002_invoice_due_on... OK"]


def test_the_migration_and_the_field_leave_the_code_and_each_check_fails_before_its_step(record_of):
    record = record_of(SLUG)
    assert failed_as_expected(record.cell("migrate-check-fails")) == [
        "Planned operations:", "transaction.0002_invoice_due_on", "    Add field due_on to invoice"]
    assert succeeded(record.cell("remove-migration-file")) == ["removed 'transaction/migrations/0002_invoice_due_on.py'"]
    assert failed_as_expected(record.cell("makemigrations-check-fails")) == [
        "Migrations for 'transaction':", "  transaction/migrations/0002_invoice_due_on.py",
        operation(record, "Add field due_on to invoice")]
    assert succeeded(record.cell("migrate-check")) == ["Planned operations:", "  No planned migration operations."]
    assert succeeded(record.cell("makemigrations-check")) == ["No changes detected"]
    dropped = succeeded(record.cell("scratch-drop"))
    assert re.fullmatch(r"dropped \S+_scratch", dropped[0]) and dropped[1:] == ["removed 'config/scratch_settings.py'"]


def test_bringing_the_column_back_keeps_a_change_made_after_the_backup(record_of):
    record = record_of(SLUG)
    assert succeeded(record.cell("later-edit")) == ["INV-1: amount 120.00"]
    assert succeeded(record.cell("due-on-empty")) == ["INV-1: due_on None - amount 120.00"]
    assert succeeded(record.cell("save-due-on")) == ['[[1, "2026-02-28"]]']
    assert succeeded(record.cell("later-work-kept")) == [
        "INV-1: due_on 2026-02-28 - amount 120.00", "the amount changed after the backup is kept"]
    # The counter-run: loaddata of the whole backup puts the backup's amount back, and says nothing of it.
    assert succeeded(record.cell("loaddata-whole-backup"))[-1].endswith(" object(s) from 2 fixture(s)")
    assert failed_as_expected(record.cell("later-work-lost")) == [
        "INV-1: due_on 2026-02-28 - amount 100.00",
        "FAILED: the amount is the backup's again: the change made after the backup is lost"]


def test_finflo_is_rolled_back_without_a_reset(record_of):
    record = record_of(SLUG)
    plan = succeeded(record.cell("plan-finflo-0001"))
    assert plan[-2:] == ["finflo.0002_remigrate", "    Raw Python operation -> IRREVERSIBLE"], plan
    lines = failed_as_expected(record.cell("migrate-finflo-0001"))
    assert lines[-1] == ("django.db.migrations.exceptions.IrreversibleError: Operation <RunPython <function "
                         "update_flow_model at 0x…>> in finflo.0002_remigrate is not reversible")
    # --fake: what depends on 0002 is un-applied for real, 0002 only on paper; finflo's rows stay.
    assert [ln for ln in succeeded(record.cell("migrate-finflo-0002")) if "Unapplying" in ln] == [
        "  Unapplying accounts.0002_links_to_finflo_and_transaction... OK",
        "  Unapplying finflo.0003_alter_action_stage_required... OK"]
    assert succeeded(record.cell("fake-finflo-0001"))[-1] == "  Unapplying finflo.0002_remigrate... FAKED"
    state = succeeded(record.cell("finflo-at-0001"))
    assert state[:4] == ["finflo", " [X] 0001_initial", " [ ] 0002_remigrate", " [ ] 0003_alter_action_stage_required"]
    assert state[4].startswith("finflo rows: Flowmodel 1 - SignList 4 - ")
    applied = [ln for ln in succeeded(record.cell("migrate-forward-after-fake")) if ln.startswith("  Applying")]
    assert len(applied) == 3 and applied[-1] == "  Applying accounts.0002_links_to_finflo_and_transaction... OK"
    # RunPython.noop as the reverse: the plan no longer says IRREVERSIBLE, and the rollback works.
    assert succeeded(record.cell("plan-finflo-0001-noop"))[-2:] == ["finflo.0002_remigrate", "    Raw Python operation"]
    assert succeeded(record.cell("migrate-finflo-0001-noop"))[-1] == "  Unapplying finflo.0002_remigrate... OK"
    assert succeeded(record.cell("finflo-at-0001-noop"))[0].startswith("finflo rows: Flowmodel 1 - SignList 4 - ")
    assert succeeded(record.cell("noop-reverse-undone")) == []  # finflo_migrations/ as committed again


def test_zero_warns_of_nothing_and_orphaned_workflows_are_listed_backed_up_and_deleted_at_once(record_of):
    record = record_of(SLUG)
    zero = succeeded(record.cell("migrate-transaction-zero"))
    assert not [ln for ln in zero if "warn" in ln.lower()], zero
    assert [ln for ln in zero if "Unapplying" in ln] == [
        "  Unapplying transaction.0002_invoice_due_on... OK",
        "  Unapplying accounts.0002_links_to_finflo_and_transaction... OK",
        "  Unapplying transaction.0001_initial... OK"]
    assert succeeded(record.cell("orphaned-workflows")) == ["workflows whose row is gone: [1]"]
    deleted = succeeded(record.cell("remove-orphaned-workflows"))[-1]
    assert deleted.startswith("deleted, in one transaction: (3, ") and "'finflo.TransitionManager': 1" in deleted
    assert succeeded(record.cell("create-payments"))[-2:] == ["2 payments", "the workflow of invoice id 1 belongs to INV-2"]


def test_a_migration_that_fails_halfway_leaves_its_first_operation_on_mariadb_only(record_of):
    record = record_of(SLUG)
    engine = record.engine
    exists = succeeded(record.cell(f"note-column-{engine}"))[-1]
    assert exists == f"note column exists: {engine == 'mariadb'}"
    if engine == "mariadb":
        assert failed_as_expected(record.cell("migrate-again-mariadb"))[-1] == \
            "django.db.utils.OperationalError: (1060, \"Duplicate column name 'note'\")"
        assert any("`note` varchar(100) NOT NULL" in ln for ln in succeeded(record.cell("show-create-table-mariadb")))
    assert succeeded(record.cell("note-column-after"))[-1] == "note column exists: False"
    assert succeeded(record.cell("migrate-fixed"))[-1] == "  Applying transaction.0003_payment_note_reference... OK"
    assert succeeded(record.cell("payments-after-fix")) == [
        "[(Decimal('40.00'), '', None), (Decimal('60.00'), '', None)]"]


def test_the_guides_0002_auto_does_not_exist_here_and_django_names_unnamed_migrations_auto(record_of):
    record = record_of(SLUG)
    assert failed_as_expected(record.cell("migrate-accounts-0002-auto")) == [
        "CommandError: Cannot find a migration matching '0002_auto' from app 'accounts'."]
    lines = succeeded(record.cell("auto-name"))
    assert any(re.fullmatch(r"  transaction/migrations/0003_auto_\d{8}_\d{4}\.py", ln) for ln in lines), lines
