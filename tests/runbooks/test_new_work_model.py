"""What a reader of how-to/new-work-model checks."""


def test_data_migration_registers_payment_once(record_of):
    record = record_of("new-work-model")
    assert "('transaction.payment', 1)" in record.cell("flowmodel-rows").output
    assert "Transaction.payment_" in record.cell("save-payment").output


def test_faking_finflo_0001_unapplies_the_apps_that_depend_on_it(record_of):
    cell = record_of("new-work-model").cell("guide-fake-finflo-0001")
    assert "Unapplying accounts.0002_links_to_finflo_and_transaction... FAKED" in cell.output
