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


def test_existing_payments_get_their_workflow_once_and_the_check_fails_before(record_of):
    from .conftest import failed_as_expected

    record = record_of("new-work-model")
    assert failed_as_expected(record.cell("payments-without-workflow")) == ["payments without a workflow: 1"]
    assert succeeded(record.cell("backfill-workflows")) == ["workflows created: 1"]
    assert succeeded(record.cell("backfill-again")) == ["workflows created: 0"]
    assert succeeded(record.cell("every-payment-has-a-workflow")) == ["payments without a workflow: 0"]
    assert succeeded(record.cell("payments-after"))[-1] == "payments: 2 - payment workflows: 2"
