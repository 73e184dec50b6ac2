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
