"""What a reader of how-to/new-work-model checks."""
from .conftest import succeeded


def test_data_migration_registers_payment_once(record_of):
    record = record_of("new-work-model")
    assert succeeded(record.cell("flowmodel-rows"))[-1] == "[('transaction.invoice', 1), ('transaction.payment', 1)]"
    assert succeeded(record.cell("save-payment"))[-1] == "Transaction.payment_2"


def test_faking_finflo_0001_unapplies_the_apps_that_depend_on_it(record_of):
    lines = succeeded(record_of("new-work-model").cell("guide-fake-finflo-0001"))
    assert sorted(ln for ln in lines if ln.startswith("  Unapplying ")) == [
        "  Unapplying accounts.0002_links_to_finflo_and_transaction... FAKED",
        "  Unapplying finflo.0002_remigrate... FAKED",
        "  Unapplying finflo.0003_alter_action_stage_required... FAKED",
        "  Unapplying transaction.0002_register_payment_work_model... FAKED",
    ], lines
