"""What a reader of how-to/rollback-migrations checks."""


def test_finflo_cannot_be_rolled_back_and_the_plan_says_so(record_of):
    record = record_of("rollback-migrations")
    assert "IRREVERSIBLE" in record.cell("plan-finflo-0001").output
    cell = record.cell("migrate-finflo-0001")
    assert cell.outcome == "expected-failure"
    assert "IrreversibleError" in cell.output and "finflo.0002_remigrate is not reversible" in cell.output


def test_the_guides_0002_auto_does_not_exist(record_of):
    cell = record_of("rollback-migrations").cell("migrate-accounts-0002-auto")
    assert "Cannot find a migration matching '0002_auto' from app 'accounts'." in cell.output


def test_the_latest_migration_is_undone_after_a_backup_and_the_backup_brings_the_data_back(record_of):
    record = record_of("rollback-migrations")
    assert record.cell("rollback-backup").outcome == "passed"
    assert "Unapplying accounts.0002_links_to_finflo_and_transaction... OK" in record.cell("migrate-accounts-0001").output
    assert record.cell("base-currency-column-gone").output.endswith("base_currency_id column exists: False\n")
    refused = record.cell("restore-while-rolled-back")
    assert refused.outcome == "expected-failure" and refused.exit == 1
    assert record.cell("base-currency-empty").output.endswith("base_currency: None\n")
    assert record.cell("base-currency-restored").output.endswith("base_currency: EUR\n")


def test_no_workflow_of_a_dropped_row_is_inherited(record_of):
    record = record_of("rollback-migrations")
    assert record.cell("orphaned-workflows").output.endswith("workflows whose row is gone: 1\n")
    assert "the workflow of invoice id 1 belongs to INV-2\n" in record.cell("create-payments").output


def test_django_names_an_unnamed_migration_auto_with_a_timestamp(record_of):
    import re
    assert re.search(r"transaction/migrations/0002_auto_\d{8}_\d{4}\.py", record_of("rollback-migrations").cell("auto-name").output)
