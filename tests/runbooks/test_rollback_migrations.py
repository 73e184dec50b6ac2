"""What a reader of how-to/rollback-migrations checks."""
from .conftest import failed_as_expected, succeeded


def test_finflo_cannot_be_rolled_back_and_the_plan_says_so(record_of):
    record = record_of("rollback-migrations")
    plan = succeeded(record.cell("plan-finflo-0001"))
    assert plan[-2:] == ["finflo.0002_remigrate", "    Raw Python operation -> IRREVERSIBLE"], plan
    lines = failed_as_expected(record.cell("migrate-finflo-0001"))
    assert lines[-1] == ("django.db.migrations.exceptions.IrreversibleError: Operation <RunPython <function "
                         "update_flow_model at 0x…>> in finflo.0002_remigrate is not reversible")
    assert lines[:5] == [
        "Operations to perform:", "  Target specific migration: 0001_initial, from finflo", "Running migrations:",
        "  Rendering model states... DONE", "  Unapplying accounts.0002_links_to_finflo_and_transaction... OK"], lines[:5]


def test_the_guides_0002_auto_does_not_exist(record_of):
    cell = record_of("rollback-migrations").cell("migrate-accounts-0002-auto")
    assert failed_as_expected(cell) == ["CommandError: Cannot find a migration matching '0002_auto' from app 'accounts'."]


def test_the_latest_migration_is_undone_after_a_backup_and_the_backup_brings_the_data_back(record_of):
    record = record_of("rollback-migrations")
    # The backup page's backup: finflo's file, then the other apps' (which names the proxy it leaves to finflo's).
    assert [ln for ln in succeeded(record.cell("rollback-backup")) if "Warning" in ln] == [
        "<site-packages>/django/core/management/commands/dumpdata.py:206: ProxyModelWarning: accounts.PartyAction "
        "is a proxy model and won't be serialized."]
    assert "  Unapplying accounts.0002_links_to_finflo_and_transaction... OK" in succeeded(record.cell("migrate-accounts-0001"))
    assert succeeded(record.cell("base-currency-column-gone"))[-1] == "base_currency_id column exists: False"
    lines = failed_as_expected(record.cell("restore-while-rolled-back"))  # PostgreSQL adds its LINE and caret
    assert any("Could not load accounts.Parties(pk=1)" in line for line in lines), lines[-3:]
    assert succeeded(record.cell("base-currency-empty"))[-1] == "base_currency: None"
    assert succeeded(record.cell("base-currency-restored"))[-1] == "base_currency: EUR"
    # XML: every value back to the microsecond, finflo's workflow timestamps included.
    assert len(succeeded(record.cell("values-before-rollback"))) > 10
    assert succeeded(record.cell("values-restored")) == ["values: identical"]


def test_the_older_release_loads_the_backup_only_with_ignorenonexistent(record_of):
    record = record_of("rollback-migrations")
    assert failed_as_expected(record.cell("restore-older-release-fails"))[-1].endswith(
        "other-apps.xml': Parties has no field named 'base_currency'")
    assert succeeded(record.cell("restore-older-release"))[-1].endswith(" object(s) from 2 fixture(s)")
    assert succeeded(record.cell("newer-release-again")) == []  # the model is as committed again


def test_no_workflow_of_a_dropped_row_is_inherited(record_of):
    record = record_of("rollback-migrations")
    assert succeeded(record.cell("orphaned-workflows"))[-1] == "workflows whose row is gone: 1"
    assert succeeded(record.cell("create-payments"))[-2:] == ["2 payments", "the workflow of invoice id 1 belongs to INV-2"]


def test_django_names_an_unnamed_migration_auto_with_a_timestamp(record_of):
    import re
    lines = succeeded(record_of("rollback-migrations").cell("auto-name"))
    assert any(re.fullmatch(r"  transaction/migrations/0002_auto_\d{8}_\d{4}\.py", ln) for ln in lines), lines
