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
