"""What a reader of how-to/backup-and-restore checks."""


def test_model_label_is_app_label_dot_model_name(record_of):
    cell = record_of("backup-and-restore").cell("dumpdata-model-wrong-label")
    assert cell.outcome == "expected-failure" and "CommandError: Unknown model: accounts.users" in cell.output


def test_the_restored_database_is_identical(record_of):
    record = record_of("backup-and-restore")
    assert "row counts: identical" in record.cell("counts-diff").output
    assert "dumps: identical" in record.cell("content-diff").output
